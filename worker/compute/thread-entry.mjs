// The compute thread's entry: TypeScript sources run through tsx here as in the main thread
// (bin/worker.mjs), so the thread registers tsx for itself before loading thread.ts.
import { register } from 'tsx/esm/api';

register();
await import('./thread.ts');
