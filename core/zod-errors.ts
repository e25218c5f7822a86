import type { z } from 'zod';

/** "a.b[2].c: message" for each issue, so an error names the exact field that is wrong. */
export function describeIssues(error: z.ZodError, root = ''): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.reduce<string>(
      (acc, key) =>
        typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key),
      root,
    );
    return `${path || '(root)'}: ${issue.message}`;
  });
}
