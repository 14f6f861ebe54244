// Worker entry used only when the switch runs from its TypeScript sources (tests, tools under
// tsx): loader hooks do not follow a worker thread, so this one registers tsx itself. Built code
// (`npm start`) loads dist/switch/pool/worker.js directly.
import { register } from 'tsx/esm/api';

register();
const worker = await import('./worker.ts');
export default worker.default;
