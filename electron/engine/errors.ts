/** A failure the user can act on: one message naming the path and what to do. `code` is for programs. */
export class EngineError extends Error {
  constructor(
    message: string,
    readonly code = 'ENGINE',
  ) {
    super(message);
  }
}
