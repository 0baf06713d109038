// Prints the JSON Schema of the settings (`npm run schema` writes it to server/tandem.schema.json).
import { jsonSchema } from './schema.js';

process.stdout.write(JSON.stringify(jsonSchema(), null, 2) + '\n');
