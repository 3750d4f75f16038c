// docs/benchmarks.md is shared by several benchmarks: each one owns the section
// between its markers and leaves the rest of the file as it is.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const HEADER = `# Benchmarks

Figures measured on this project's machines, with the command that produced them.
Each section is rewritten by its benchmark; the targets are those of the design notes (design.md, "Targets").
`;

export function replaceSection(file: string, name: string, markdown: string): void {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const section = `${begin}\n${markdown.trimEnd()}\n${end}`;
  const current = existsSync(file) ? readFileSync(file, "utf8") : HEADER;
  const from = current.indexOf(begin);
  const to = current.indexOf(end);
  const next =
    from !== -1 && to > from
      ? current.slice(0, from) + section + current.slice(to + end.length)
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
}

/** A markdown table from a header row and rows of cells. */
export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}
