// The one logging surface the parts write to: a structured object and a
// message, at four levels, and children that carry bindings (`{ part }`).
// pino's Logger fits it as it is; tests and parts given no log use
// `silentLogger`.
// Must never: depend on a logging library, or grow what only one backend has.

export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};
