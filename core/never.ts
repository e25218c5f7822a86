/**
 * The end of every switch over a union (event types, command types, causes, plan actions): when a member
 * is added, each switch that does not handle it stops compiling here.
 */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
