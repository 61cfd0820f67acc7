export * from './span-assembler.service';
export * from './span-assembler.module';
