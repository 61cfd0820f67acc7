export * from './kafka-message-bus.adapter';
export * from './kafka-lz4.codec';
export * from './kafka-request-queue.patch';
