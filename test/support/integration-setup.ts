// Integration tests start processes and wait for Kafka, Elasticsearch and Redis: give each test up to 3 minutes.
jest.setTimeout(180_000);
