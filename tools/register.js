// register.js: runs the TypeScript sources directly (SWC, with decorator metadata for NestJS and
// the tsconfig path aliases). Used by `npm start`, the app processes spawned by integration tests, and the app start scripts.
const path = require('node:path');
process.env.SWC_NODE_PROJECT ??= path.join(__dirname, '..', 'tsconfig.base.json');
require('@swc-node/register');
