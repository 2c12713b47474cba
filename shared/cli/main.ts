/** Entry point of the `gradfleet` command (bin/gradfleet.mjs loads it through tsx). */
import { buildProgram } from './program.js';
import { errorLine, exitCodeFor } from './errors.js';

try {
  await buildProgram().parseAsync(process.argv);
} catch (e) {
  process.stderr.write(`${errorLine(e)}\n`);
  process.exitCode = exitCodeFor(e);
}
