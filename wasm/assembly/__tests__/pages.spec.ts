import {
  variantOf, Variant, renderVariant, defaultHtml, NOT_FOUND_PAGE, UNAVAILABLE_PAGE, BAD_HOST_PAGE,
  DEFAULT_NOT_FOUND_PAGE, DEFAULT_UNAVAILABLE_PAGE, BAD_REQUEST_PAGE,
} from "../../src/resolver/pages";

function variantFor(accept: string): i32 {
  const b = String.UTF8.encode(accept);
  return variantOf(changetype<usize>(b), <usize>b.byteLength);
}

describe("error page variant (nginx.conf.template's map $http_accept $error_variant)", () => {
  it("is HTML without a JSON or text type", () => {
    expect(variantFor("")).toBe(Variant.Html);
    expect(variantFor("*/*")).toBe(Variant.Html);
    expect(variantFor("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")).toBe(Variant.Html);
    expect(variantFor("application/jso")).toBe(Variant.Html, "a prefix is not a match");
    expect(variantFor("text/plai")).toBe(Variant.Html);
    expect(variantFor("application\x0fjson")).toBe(Variant.Html, "only A-Z are folded");
  });

  it("is JSON when application/json appears anywhere, in any ASCII case", () => {
    expect(variantFor("application/json")).toBe(Variant.Json);
    expect(variantFor("APPLICATION/JSON")).toBe(Variant.Json);
    expect(variantFor("text/html;q=0.5, Application/Json")).toBe(Variant.Json);
    expect(variantFor("application/json;q=0")).toBe(Variant.Json, "q-values are not read, as in nginx's map");
  });

  it("prefers JSON over text, as the map's first matching regex wins", () => {
    expect(variantFor("text/plain, application/json")).toBe(Variant.Json);
  });

  it("is text for text/plain", () => {
    expect(variantFor("text/plain")).toBe(Variant.Text);
    expect(variantFor("TEXT/PLAIN; charset=utf-8")).toBe(Variant.Text);
    expect(variantFor("text/html;q=0.9,text/plain")).toBe(Variant.Text);
  });
});

describe("error page bodies", () => {
  it("text: one line, status, reason and the host", () => {
    expect(renderVariant(Variant.Text, NOT_FOUND_PAGE, "", "a.example.com")).toBe("404 Not Found: there is no site at a.example.com\n");
    expect(renderVariant(Variant.Text, UNAVAILABLE_PAGE, "", "b.example.com"))
      .toBe("503 Service Unavailable: the routing service cannot answer for b.example.com right now\n");
    expect(renderVariant(Variant.Text, BAD_HOST_PAGE, "", "")).toBe("400 Bad Request: the Host header is not a valid host name\n");
  });

  it("JSON: error, status, host and message", () => {
    expect(renderVariant(Variant.Json, NOT_FOUND_PAGE, "", "xn--bcher-kva.example"))
      .toBe('{"error":"not_found","status":404,"host":"xn--bcher-kva.example","message":"there is no site at xn--bcher-kva.example"}\n');
    expect(renderVariant(Variant.Json, UNAVAILABLE_PAGE, "", "b.example.com"))
      .toBe('{"error":"service_unavailable","status":503,"host":"b.example.com","message":"the routing service cannot answer for b.example.com right now"}\n');
    expect(renderVariant(Variant.Json, BAD_HOST_PAGE, "", ""))
      .toBe('{"error":"bad_request","status":400,"message":"the Host header is not a valid host name"}\n');
  });

  it("leaves out a host that is not a normalized DNS name instead of printing it raw", () => {
    expect(renderVariant(Variant.Json, NOT_FOUND_PAGE, "", "a\"b\\c\n.example.com"))
      .toBe('{"error":"not_found","status":404,"host":"","message":"there is no site at "}\n');
    expect(renderVariant(Variant.Text, NOT_FOUND_PAGE, "", "Upper.Example.COM")).toBe("404 Not Found: there is no site at \n");
  });

  it("HTML: the template with the host escaped", () => {
    expect(renderVariant(Variant.Html, NOT_FOUND_PAGE, "<p>{host} & {host}</p>", "a<b")).toBe("<p>a&lt;b & a&lt;b</p>");
    expect(renderVariant(Variant.Html, NOT_FOUND_PAGE, DEFAULT_NOT_FOUND_PAGE, "a.example.com"))
      .toBe("<!DOCTYPE html><meta charset=\"utf-8\"><title>404 Not Found</title><h1>404 Not Found</h1>" +
        "<p>There is no site at a.example.com.</p>\n");
  });

  it("default HTML pages are built from the same lines", () => {
    expect(DEFAULT_UNAVAILABLE_PAGE).toBe(defaultHtml(UNAVAILABLE_PAGE));
    expect(DEFAULT_UNAVAILABLE_PAGE.includes("<h1>503 Service Unavailable</h1><p>The routing service cannot answer for {host} right now.</p>")).toBe(true);
    expect(BAD_REQUEST_PAGE.includes("<p>The Host header is not a valid host name.</p>")).toBe(true);
    expect(BAD_REQUEST_PAGE.includes("{host}")).toBe(false, "the 400 never echoes the Host");
  });
});
