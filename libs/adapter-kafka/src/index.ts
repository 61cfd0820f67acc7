export * from './kafka-message-bus.adapter';
