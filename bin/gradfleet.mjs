#!/usr/bin/env node
// The gradfleet command: TypeScript sources run through tsx, no build step.
import { register } from 'tsx/esm/api';

register();
await import('../shared/cli/main.ts');
