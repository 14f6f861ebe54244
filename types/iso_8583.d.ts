// Minimal typings for the parts of the npm package iso_8583 used as an independent peer in tests
// and as the baseline in bench/codec.
declare module 'iso_8583' {
  type IsoJson = Record<string, string>;
  class Iso8583 {
    constructor(data?: IsoJson | Record<number, string>, customFormats?: Record<string, unknown>, requiredFields?: unknown);
    getBufferMessage(): Buffer | { error: string };
    getRawMessage(): Buffer | { error: string };
    getIsoJSON(incoming: Buffer, config?: Record<string, unknown>): IsoJson & { error?: string };
    validateMessage(): boolean;
  }
  export default Iso8583;
}
