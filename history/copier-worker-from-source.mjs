// Copier thread entry used only when the switch runs from its TypeScript sources (tests, tools
// under tsx): loader hooks do not follow a worker thread, so this one registers tsx itself. Built
// code (`npm start`) loads dist/history/copier-worker.js directly.
import { register } from 'tsx/esm/api';

register();
await import('./copier-worker.ts');
