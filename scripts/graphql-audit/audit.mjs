// Runs graphql-http's audit suite (every MUST, SHOULD and MAY of the
// GraphQL-over-HTTP specification it knows) against the /graphql endpoint
// given as the first argument. Errors and warnings both count as failed;
// notices (optional behaviour) are listed but pass. The last line is
// "N passed, N failed", and the exit status is non-zero if any failed.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs http://host:port/graphql');
  process.exit(2);
}
const results = await auditServer({ url });
let passed = 0;
let failed = 0;
for (const r of results) {
  if (r.status === 'ok' || r.status === 'notice') {
    passed++;
    if (r.status === 'notice') console.log(`notice ${r.id} ${r.name}: ${r.reason}`);
    continue;
  }
  failed++;
  console.log(`${r.status} ${r.id} ${r.name}: ${r.reason}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
