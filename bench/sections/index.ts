/** Every benchmark section, in the order `gradfleet bench` runs them. Add a section: one file, one line. */
import type { BenchSection } from '../section.js';
import { gradientStepSection } from './gradient-step.js';
import { torchReferenceSection } from './torch-reference.js';
import { torchDdpSection } from './torch-ddp.js';
import { localLoopSection } from './local-loop.js';
import { augmentSection } from './augment.js';
import { aggregateUpdateSection } from './aggregate-update.js';
import { clusterSection } from './cluster.js';
import { scaleSection } from './scale.js';
import { timeToAccuracySection } from './time-to-accuracy.js';

export const SECTIONS: readonly BenchSection[] = [
  gradientStepSection,
  torchReferenceSection,
  torchDdpSection,
  localLoopSection,
  // Augmentation against the CNN step it precedes: seconds.
  augmentSection,
  aggregateUpdateSection,
  clusterSection,
  // Simulated workers against one coordinator and through relays: a few minutes.
  scaleSection,
  // Last: it trains to a target accuracy, minutes rather than seconds.
  timeToAccuracySection,
];
