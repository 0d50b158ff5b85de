// Worker entry in plain JavaScript: loads the TypeScript worker through tsx's API, so a worker
// starts the same way under `tsx`, vitest or plain node.
import { tsImport } from 'tsx/esm/api';

await tsImport('./algorithmWorker.ts', import.meta.url);
