/**
 * The `gradfleet` command and its subcommands. Each subcommand lives in its own file and
 * registers itself on the root command; add new ones (train, bench...) to SUBCOMMANDS.
 */
import { Command } from '@commander-js/extra-typings';
import { registerCompileCommand } from './compile-command.js';
import { registerTrainCommand } from './train.js';
import { registerBenchCommand } from './bench.js';
import { registerReportCommand } from './report.js';
import { registerDashboardCommand } from './dashboard.js';
import { registerQuantizeCommand } from './quantize.js';
import { registerCertsCommand } from './certs.js';
import { registerEvalCommand } from './eval.js';

/** Adds one subcommand to the root `gradfleet` command. */
export type RegisterSubcommand = (program: Command) => void;

const SUBCOMMANDS: readonly RegisterSubcommand[] = [registerCompileCommand, registerTrainCommand, registerBenchCommand, registerReportCommand, registerDashboardCommand, registerQuantizeCommand, registerCertsCommand, registerEvalCommand];

/** A fresh root command with every subcommand registered (fresh per call, so tests can parse twice). */
export function buildProgram(): Command {
  const program = new Command('gradfleet')
    .description('distributed data-parallel training with gradients compiled into ONNX')
    .version('0.1.0')
    .showHelpAfterError();
  for (const register of SUBCOMMANDS) register(program);
  return program;
}
