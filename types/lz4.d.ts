// Types for the parts of the `lz4` package (LZ4 frame format, native binding) that Skein uses.
declare module 'lz4' {
  export function encode(input: Buffer, options?: { blockMaxSize?: number; streamChecksum?: boolean }): Buffer;
  export function decode(input: Buffer): Buffer;
}
