#!/usr/bin/env node
// The coordinator command: TypeScript sources run through tsx, no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../coordinator/cli.ts');
process.exit(await main(process.argv));
