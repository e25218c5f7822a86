import type { z } from 'zod';

/** "a.b[2].c: message" for each issue, so an error names the exact field that is wrong. */
export function describeIssues(error: z.ZodError, root = ''): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.reduce<string>(
      (acc, key) =>
        typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key),
      root,
    );
    // A record key that fails its own schema: say why it failed, not only that it did.
    const message =
      issue.code === 'invalid_key' ? issue.issues.map((i) => i.message).join('; ') : issue.message;
    return `${path || '(root)'}: ${message}`;
  });
}
