import { Span } from '../span/span.model';
import { SpanViolation } from '../span/span.validation';

/**
 * DecodedSpans: what a protocol decoder (native, OTLP, Zipkin) makes of one request: the valid spans, and every
 * span it refused with why. Protocols with partial success (OTLP) accept `spans` and report `rejected`;
 * all-or-nothing protocols (native, Zipkin) refuse the request when `rejected` is not empty.
 * Whole-body problems (corrupt compression, unparsable JSON/protobuf) are thrown as a BatchRejection instead.
 */
export interface DecodedSpans {
  spans: Span[];
  rejected: SpanViolation[];
  /** rejectedSpans: how many spans the `rejected` violations belong to (one span may have several). */
  rejectedSpans: number;
}
