// Cross-check of the filter's IDN subset against Node's UTS#46 implementation
// (url.domainToASCII) on names the subset claims to handle exactly: Latin-1,
// Latin Extended-A, Greek and Cyrillic letters in either case, CJK, fullwidth
// ASCII and the ideographic full stop. See wasm/README.md for what is left out.
import test from "ava";
import { domainToASCII, fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const { normalize } = (await import(`${root}build/normalize-vectors.js`)) as { normalize(input: string): string };

const names = [
  "bücher.de", "BÜCHER.DE", "Ärger.example", "ÉCOLE.fr", "smørrebrød.dk", "ÞINGVELLIR.is",
  "łódź.pl", "ŁÓDŹ.PL", "ŽLUŤOUČKÝ-KŮŇ.cz", "ĞÜŞİÇÖ.tr", "İstanbul.tr", "Őrség.hu", "ŸVELINE.fr",
  "ΑΘΗΝΑ.gr", "Ελλάδα.gr", "ΆΈΉΊΌΎΏ.gr", "МОСКВА.рф", "пример.испытание", "ЁЖИК.ru", "ЂЕЛЕ.rs", "ЇЖАК.ua",
  "日本.jp", "例え。テスト", "中国.cn", "ｅｘａｍｐｌｅ.com", "ＥＸＡＭＰＬＥ．ＣＯＭ", "a-ü-b.example", "xn--bcher-kva.de",
  "straße.de", "münchen.de",
];

for (const name of names) {
  test(`normalize ${name} like domainToASCII`, (t) => {
    const expected = domainToASCII(name);
    t.not(expected, "", `${name} is a valid IDN`);
    t.is(normalize(name), expected);
  });
}
