// The entry Pulumi's policy runner loads: it `require`s the pack's package.json `main`. This loads
// the TypeScript pack through tsx, which resolves its `./x.js` imports to the `.ts` sources (Node's
// own type stripping would not).
/* global require, __filename */
/* eslint-disable @typescript-eslint/no-require-imports */
const { require: tsxRequire } = require("tsx/cjs/api");

tsxRequire("./index.ts", __filename);
