/**
 * The layering of DESIGN.md, enforced in CI (`npm run depcheck`): the core is pure and imports no
 * shell and no I/O; the simulator and the reports do not import each other in a cycle (the CLIs in
 * cli/ compose them); reports read a run's result types, never the engine. Type-only imports count
 * too (tsPreCompilationDeps), and so do dynamic `import()`s of a literal path.
 * test/core/layering.test.ts plants violations and checks each rule catches them.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-no-shell',
      comment:
        'core/ is the pacing logic both shells run: it imports nothing of server, sim, reports, cli, bench.',
      severity: 'error',
      from: { path: '^core/' },
      to: { path: '^(server|sim|reports|cli|bench|test)/' },
    },
    {
      name: 'core-does-no-io',
      comment:
        'core/ takes time, randomness and state as arguments: no Node module at all (fs, net, http, crypto, timers, worker_threads, ...).',
      severity: 'error',
      from: { path: '^core/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'core-uses-no-package',
      comment: 'core/ depends on no npm package (no fastify, ioredis, seedrandom): it must run anywhere.',
      severity: 'error',
      from: { path: '^core/' },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'sim-does-not-import-reports',
      comment:
        'The simulator produces results; cli/ turns them into reports. sim -> reports -> sim would be a cycle.',
      severity: 'error',
      from: { path: '^sim/' },
      to: { path: '^reports/' },
    },
    {
      name: 'reports-read-results-not-the-engine',
      comment:
        'Reports depend on the result types of a run (sim/result.ts), never on the engine or runner that made it.',
      severity: 'error',
      from: { path: '^reports/' },
      to: {
        path: '^sim/(engine|run|world|parallel|algorithmWorker|sources/|eventQueue|faultyStore|latentStore)',
      },
    },
    {
      name: 'reports-import-sim-types-only',
      comment: 'Reports run without the simulator: what they take from sim/ is types.',
      severity: 'error',
      from: { path: '^reports/' },
      to: { path: '^sim/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'nothing-imports-a-cli',
      comment: 'cli/ holds the entry points: they import the layers, no layer imports them.',
      severity: 'error',
      from: { path: '^(core|server|sim|reports)/' },
      to: { path: '^cli/' },
    },
    {
      name: 'server-and-sim-apart',
      comment: 'The two shells share only core/.',
      severity: 'error',
      from: { path: '^(server|sim)/' },
      to: { path: '^(sim|server)/', pathNot: '^$1/' },
    },
    {
      name: 'no-circular',
      comment: 'A cycle between modules means two concepts that cannot be understood apart.',
      severity: 'error',
      from: { path: '^(core|server|sim|reports|cli)/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|out|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
