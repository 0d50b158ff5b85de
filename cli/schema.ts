import { writeFileSync } from 'node:fs';
import { SCENARIO_SCHEMA_PATH } from '../sim/scenario';
import { scenarioSchemaText } from '../sim/scenarioSchema';

/**
 * `npm run schema`: writes scenarios/scenario.schema.json from the TypeBox source
 * (sim/scenarioSchema.ts). The file is generated, never edited by hand; test/sim/scenario.test.ts
 * fails when the committed copy is stale.
 */
writeFileSync(SCENARIO_SCHEMA_PATH, scenarioSchemaText());
process.stdout.write(`wrote ${SCENARIO_SCHEMA_PATH}\n`);
