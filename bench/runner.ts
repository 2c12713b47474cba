/**
 * Runs benchmark sections and prints one table: the machine first, then a block per section
 * with its rows (median, and the slowest–fastest run in brackets) and its notes.
 */
import os from 'node:os';
import { SECTIONS } from './sections/index.js';
import { describeMachine, machineLine, type MachineInfo } from './machine.js';
import { UnknownSectionError } from './errors.js';
import type { BenchRow, BenchSection, BenchSettings, SectionResult } from './section.js';

export interface BenchReport {
  machine: MachineInfo;
  settings: BenchSettings;
  sections: { id: string; title: string; result: SectionResult; seconds: number }[];
  /** 1-minute load average before and after: other processes competing for the cores skew every figure. */
  load: { before: number; after: number };
}

/** The sections with these ids (all when `ids` is empty), in registry order; throws on an unknown id. */
export function selectSections(ids: readonly string[], all: readonly BenchSection[] = SECTIONS): BenchSection[] {
  const unknown = ids.filter((id) => !all.some((s) => s.id === id));
  if (unknown.length > 0) throw new UnknownSectionError(unknown, all.map((s) => s.id));
  return ids.length === 0 ? [...all] : all.filter((s) => ids.includes(s.id));
}

export async function runBench(sections: readonly BenchSection[], settings: BenchSettings, log: (line: string) => void): Promise<BenchReport> {
  const report: BenchReport = { machine: describeMachine(), settings, sections: [], load: { before: os.loadavg()[0]!, after: NaN } };
  for (const section of sections) {
    log(`${section.title}`);
    const start = performance.now();
    const result = await section.run({ settings, log });
    report.sections.push({ id: section.id, title: section.title, result, seconds: (performance.now() - start) / 1000 });
  }
  report.load.after = os.loadavg()[0]!;
  return report;
}

/**
 * A note when the machine was busy before the bench started (its own processes raise the load
 * average after it, so only the figure before says whether something else competed for the cores).
 */
function loadWarning(before: number, cores: number): string {
  return before > 0.5 * cores ? ` (before: over half of the ${cores} cores busy with other processes, which took CPU time from the bench)` : '';
}

/** The report as a plain-text table (also valid Markdown). */
export function formatReport(r: BenchReport): string {
  const lines = [
    `machine: ${machineLine(r.machine)}`,
    `load average (1 min): ${r.load.before.toFixed(2)} before, ${r.load.after.toFixed(2)} after${loadWarning(r.load.before, r.machine.cores)}`,
    `settings: median of ${r.settings.runs} timed runs of ≥ ${r.settings.minRunSeconds} s after ${r.settings.warmup} warm-up iterations`,
    '',
  ];
  lines.push('| section | case | threads | median | unit | slowest – fastest run | note |', '|---|---|---:|---:|---|---|---|');
  for (const s of r.sections) {
    for (const row of s.result.rows) lines.push(formatRow(s.id, row));
    for (const note of s.result.notes) lines.push(`| ${s.id} | ${note} | | | | | |`);
  }
  return lines.join('\n');
}

function formatRow(section: string, row: BenchRow): string {
  const range = row.range ? `${formatValue(row.range[0])} – ${formatValue(row.range[1])}` : '';
  return `| ${section} | ${row.case} | ${row.threads ?? ''} | ${formatValue(row.value)} | ${row.unit} | ${range} | ${row.note ?? ''} |`;
}

function formatValue(v: number): string {
  if (v >= 100) return Math.round(v).toLocaleString('en-US');
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}
