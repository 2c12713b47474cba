/**
 * Tensor bytes through the coordinator: parameters sent (GetParams) and gradients received
 * (SubmitResult), counted as the payload of their chunks (protobuf and gRPC framing add a few
 * dozen bytes per chunk of up to a megabyte). summary.json reports them, so that the bytes a
 * worker moves per step can be set against the model's size (8·P in float32: P·4 down, P·4 up).
 */
export interface TransferCounts {
  params_bytes_sent: number;
  params_streams: number;
  gradient_bytes_received: number;
  results: number;
}

export class TransferMeter {
  private readonly counts: TransferCounts = { params_bytes_sent: 0, params_streams: 0, gradient_bytes_received: 0, results: 0 };

  paramsSent(bytes: number): void {
    this.counts.params_bytes_sent += bytes;
    this.counts.params_streams++;
  }

  gradientChunk(bytes: number): void {
    this.counts.gradient_bytes_received += bytes;
  }

  result(): void {
    this.counts.results++;
  }

  snapshot(): TransferCounts {
    return { ...this.counts };
  }
}
