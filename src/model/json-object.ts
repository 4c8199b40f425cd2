// The one test for "a JSON object": what JSON.parse gives for `{…}`, not
// null and not an array. Shared by the model's validators and the agent's
// route bodies so they agree on what a body with fields is.
//
// Pure. Must never: accept an array or null as an object.

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
