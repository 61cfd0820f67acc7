/** InfraEnv: addresses of the real Kafka, Elasticsearch and Redis that integration tests use. */
export interface InfraEnv {
  kafkaBrokers: string[];
  elasticsearchUrl: string;
  redisUrl: string;
}

/**
 * infraFromEnv: reads SKEIN_KAFKA_BROKERS, SKEIN_ES_URL and SKEIN_REDIS_URL (set by test/run-all.sh after
 * deploy/local/infra.sh up); fails naming the missing variable.
 */
export function infraFromEnv(): InfraEnv {
  const need = (name: string) => {
    const value = process.env[name];
    if (value === undefined || value === '') {
      throw new Error(`${name} is not set: run integration tests through "npm test" (test/run-all.sh), which starts Kafka, Elasticsearch and Redis`);
    }
    return value;
  };
  return {
    kafkaBrokers: need('SKEIN_KAFKA_BROKERS').split(','),
    elasticsearchUrl: need('SKEIN_ES_URL'),
    redisUrl: need('SKEIN_REDIS_URL'),
  };
}

/** eventually: retries `check` until it stops throwing or `timeoutMs` passes (default 30 s), then rethrows its last error. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 30_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}
