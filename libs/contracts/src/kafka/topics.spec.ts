import { CONSUMER_GROUPS, SPANS_TOPIC, spansTopicSpec, topicName } from './topics';

describe('topics', () => {
  it('names the spans topic and the consumer groups', () => {
    expect(SPANS_TOPIC).toBe('skein.spans.v1');
    expect(CONSUMER_GROUPS).toEqual({ spanAssembler: 'skein.span-assembler.v1', metricsAggregator: 'skein.metrics-aggregator.v1' });
  });

  it('topicName prepends a deployment prefix with a dot, or none', () => {
    expect(topicName(SPANS_TOPIC)).toBe('skein.spans.v1');
    expect(topicName(SPANS_TOPIC, '')).toBe('skein.spans.v1');
    expect(topicName(SPANS_TOPIC, 'staging')).toBe('staging.skein.spans.v1');
    expect(topicName(CONSUMER_GROUPS.spanAssembler, 'it-42')).toBe('it-42.skein.span-assembler.v1');
  });

  it('spansTopicSpec asks for lz4 compression and 3 days of retention', () => {
    expect(spansTopicSpec('staging.skein.spans.v1', 6)).toEqual({
      topic: 'staging.skein.spans.v1',
      partitions: 6,
      config: { 'compression.type': 'lz4', 'retention.ms': '259200000' },
    });
  });
});
