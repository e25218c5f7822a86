// The layering of ARCHITECTURE.md, checked on every `npm test` (npm run deps:check). Type-only imports
// count (tsPreCompilationDeps), and so do dynamic import()s.
const layer = (name, from, notTo, comment) => ({
  name,
  comment,
  severity: 'error',
  from: { path: from },
  to: { path: notTo },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import circle (type-only ones too) makes a room that cannot be understood alone.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-is-pure',
      comment: 'core/ is the pure domain: it may import only core/ and zod (no I/O, no Node built-ins).',
      severity: 'error',
      from: { path: '^core/' },
      to: { pathNot: ['^core/', '^node_modules/zod/'] },
    },
    layer(
      'service-knows-no-shell',
      '^service/',
      '^(local|aws|relay|functions|cli)/',
      'service/ uses ports only.',
    ),
    layer(
      'aws-apart',
      '^aws/',
      '^(local|relay|functions|cli)/',
      'The AWS adapters never import the local runtime.',
    ),
    layer('local-apart', '^local/', '^aws/', 'The local runtime never imports the AWS adapters.'),
    layer(
      'functions-no-relay',
      '^functions/',
      '^(relay|cli)/',
      'Lambda functions never run login-node code.',
    ),
    layer(
      'relay-no-cloud',
      '^relay/',
      '^(functions|aws|local|cli)/',
      'The relay talks to the service only over HTTP and queues.',
    ),
    {
      name: 'not-to-unresolvable',
      comment: "infra/ resolves against SST's platform, installed by `sst install` (scripts/infra-check.sh).",
      severity: 'error',
      from: { pathNot: '^(infra|test/infra)/' },
      to: { couldNotResolve: true },
    },
    {
      name: 'no-test-from-source',
      comment: 'Shipped code never imports the tests or their doubles.',
      severity: 'error',
      from: { path: '^(core|service|local|aws|functions|relay|cli)/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|\\.sst|dist|coverage)/' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
