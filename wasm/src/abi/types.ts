// proxy-wasm ABI 0.2.1 enumerations (spec: proxy-wasm/spec abi-versions/v0.2.1, "Types").
// Plain constants rather than enums so they inline to i32 literals.

export namespace Status {
  export const Ok: u32 = 0;
  export const NotFound: u32 = 1;
  export const BadArgument: u32 = 2;
  export const SerializationFailure: u32 = 3;
  export const ParseFailure: u32 = 4;
  export const InvalidMemoryAccess: u32 = 6;
  export const Empty: u32 = 7;
  export const CasMismatch: u32 = 8;
  export const InternalFailure: u32 = 10;
  export const Unimplemented: u32 = 12;
}

export namespace LogLevel {
  export const Trace: u32 = 0;
  export const Debug: u32 = 1;
  export const Info: u32 = 2;
  export const Warn: u32 = 3;
  export const Error: u32 = 4;
  export const Critical: u32 = 5;
}

export namespace Action {
  export const Continue: u32 = 0;
  export const Pause: u32 = 1;
}

export namespace BufferType {
  export const HttpRequestBody: u32 = 0;
  export const HttpResponseBody: u32 = 1;
  export const DownstreamData: u32 = 2;
  export const UpstreamData: u32 = 3;
  // The 0.2.1 text of proxy_on_http_call_response names HTTP_RESPONSE_BODY, but every
  // host and SDK reads a callout's body from HTTP_CALL_RESPONSE_BODY; we use that.
  export const HttpCallResponseBody: u32 = 4;
  export const GrpcCallMessage: u32 = 5;
  export const VmConfiguration: u32 = 6;
  export const PluginConfiguration: u32 = 7;
  export const ForeignFunctionArguments: u32 = 8;
}

export namespace MapType {
  export const HttpRequestHeaders: u32 = 0;
  export const HttpRequestTrailers: u32 = 1;
  export const HttpResponseHeaders: u32 = 2;
  export const HttpResponseTrailers: u32 = 3;
  export const GrpcCallInitialMetadata: u32 = 4;
  export const GrpcCallTrailingMetadata: u32 = 5;
  export const HttpCallResponseHeaders: u32 = 6;
  export const HttpCallResponseTrailers: u32 = 7;
}

export namespace StreamType {
  export const HttpRequest: u32 = 0;
  export const HttpResponse: u32 = 1;
  export const Downstream: u32 = 2;
  export const Upstream: u32 = 3;
}
