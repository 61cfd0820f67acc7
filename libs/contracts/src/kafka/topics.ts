import { TopicSpec } from '@skein/domain';

/** SPANS_TOPIC: the topic the gateway writes spans to; one message per trace per request, keyed by traceId. */
export const SPANS_TOPIC = 'skein.spans.v1';

/**
 * DEAD_LETTER_TOPIC: spans the trace store refused permanently (e.g. a mapping conflict), one message per span
 * with the reason ({@link DeadLetterMessage}), keyed by traceId; kept 7 days for inspection and replay.
 */
export const DEAD_LETTER_TOPIC = 'skein.spans.dead-letter.v1';

/** CONSUMER_GROUPS: the consumer group of each service that reads {@link SPANS_TOPIC}. */
export const CONSUMER_GROUPS = {
  spanAssembler: 'skein.span-assembler.v1',
  metricsAggregator: 'skein.metrics-aggregator.v1',
} as const;

/** topicName: a topic name with an optional per-deployment (or per-test) prefix: `<prefix>.skein.spans.v1`. */
export function topicName(base: string, prefix = ''): string {
  return prefix === '' ? base : `${prefix}.${base}`;
}

/** spansTopicSpec: how the spans topic is created: lz4 compression on the topic, retention 3 days. */
export function spansTopicSpec(topic: string, partitions: number): TopicSpec {
  return { topic, partitions, config: { 'compression.type': 'lz4', 'retention.ms': String(3 * 24 * 3600 * 1000) } };
}

/** deadLetterTopicSpec: how the dead-letter topic is created: lz4, retention 7 days (time to look and replay). */
export function deadLetterTopicSpec(topic: string, partitions: number): TopicSpec {
  return { topic, partitions, config: { 'compression.type': 'lz4', 'retention.ms': String(7 * 24 * 3600 * 1000) } };
}
