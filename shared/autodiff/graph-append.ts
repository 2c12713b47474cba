/**
 * Moves what a GraphBuilder emitted into the graph it builds on. Passes that receive the builder
 * (training mode, losses, the backward walk) may or may not splice their nodes into the graph
 * themselves; appending by identity adds each node and initializer exactly once either way.
 */
import type { GraphProto } from '../proto/gen/onnx.js';
import type { GraphBuilder } from '../onnx/builder.js';

export interface Appender {
  /** Appends the builder's nodes and initializers created since the last flush and not yet in the graph. */
  flush(): void;
}

export function appendNew(graph: GraphProto, b: GraphBuilder): Appender {
  let nodes = 0;
  let inits = 0;
  return {
    flush() {
      const haveNodes = new Set(graph.node);
      for (const n of b.nodes.slice(nodes)) if (!haveNodes.has(n)) graph.node.push(n);
      nodes = b.nodes.length;
      const haveInits = new Set(graph.initializer);
      for (const t of b.initializers.slice(inits)) if (!haveInits.has(t)) graph.initializer.push(t);
      inits = b.initializers.length;
    },
  };
}
