// Exit codes say what failed, so that a script can tell a missing route from a
// refused token or an unreachable API without parsing the message. README lists them.
export const EXIT = {
  ok: 0,
  /** Bad arguments or options, an unreadable input file. */
  usage: 1,
  /** The route does not exist (404 from the API). */
  notFound: 2,
  /** No token, or the API refused it (401). */
  auth: 3,
  /** The API refused the input: invalid host, backend, JSON or import line (400, 413, 415). */
  invalid: 4,
  /** The API (or the edge metrics URL) could not be reached. */
  unreachable: 5,
  /** The API failed (5xx) or answered something that is not the route API. */
  server: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure to report as one line (and, with --json, as one JSON object) before exiting with `exit`. */
export class CliError extends Error {
  constructor(
    readonly exit: ExitCode,
    readonly code: string,
    message: string,
    /** More for --json (e.g. an import's bad lines) and for the lines printed under the message. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "CliError";
  }
}
