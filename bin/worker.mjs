#!/usr/bin/env node
// The worker command: TypeScript sources run through tsx, no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../worker/cli.ts');
process.exit(await main(process.argv));
