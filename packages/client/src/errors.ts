/**
 * An error that says why in `reason`, one of a closed set a caller can switch on, beside its
 * message for people. Each kind of failure of the SDK names its own subclass and set.
 */
export class ReasonError<Reason extends string> extends Error {
  constructor (readonly reason: Reason, message: string, options?: ErrorOptions) {
    super(message, options)
  }
}
