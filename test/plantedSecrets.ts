// Planted secrets of every kind the redactor knows: [kind, a line of code holding it, the secret itself].
// Assembled at run time so this file itself holds no token a scanner would flag.
const j = (...parts: string[]) => parts.join('');
const PEM = j('-----BEGIN RSA PRIVATE', ' KEY-----\nMIIEowIBAAKCAQEAx7\nabcDEF123\n-----END RSA PRIVATE', ' KEY-----');

export const SECRETS: [kind: string, input: string, secret: string][] = [
  ['private-key', `const key = \`${PEM}\`;`, 'MIIEowIBAAKCAQEAx7'],
  ['private-key', `{"private_key": "${j('-----BEGIN PRIVATE', ' KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE', ' KEY-----\\n')}"}`, 'MIIEvQIBADANBg'],
  ['aws-access-key', `aws_access_key_id = ${j('AKIA', 'IOSFODNN7EXAMPLE')}`, j('AKIA', 'IOSFODNN7EXAMPLE')],
  ['gcp-api-key', `const k = "${j('AIza', 'SyD-abcdefghijklmnopqrstuvwxyz01234')}"`, j('AIza', 'SyD-abcdefghijklmnopqrstuvwxyz01234')],
  ['azure-storage-key', `DefaultEndpointsProtocol=https;AccountName=x;AccountKey=${'A'.repeat(86)}==;EndpointSuffix=core.windows.net`, 'A'.repeat(86)],
  ['github-token', `token: ${j('ghp_', 'a'.repeat(36))}`, j('ghp_', 'a'.repeat(36))],
  ['github-token', `GH=${j('github_pat_', '11AAAAAAA0', 'b'.repeat(40))}`, j('github_pat_', '11AAAAAAA0')],
  ['gitlab-token', `git clone https://oauth2:${j('glpat-', 'x'.repeat(20))}@gitlab.example.com/g/p.git`, j('glpat-', 'x'.repeat(20))],
  ['slack-token', `slack.post(${JSON.stringify(j('xoxb-', '123456789012-1234567890123-abcdefghijklmnop'))})`, j('xoxb-', '123456789012')],
  ['slack-webhook', `url = "${j('https://hooks.slack.com/services/', 'T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX')}"`, 'T00000000/B00000000'],
  ['jwt', `Authorization: Bearer ${j('eyJhbGciOiJIUzI1NiJ9', '.', 'eyJzdWIiOiIxMjM0NTY3ODkwIn0', '.', 'dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U')}`, 'eyJzdWIiOiIxMjM0NTY3ODkwIn0'],
  ['api-key', `openai.api_key = ${JSON.stringify(j('sk-', 'proj-', 'abcdefghijklmnopqrstuvwxyz123456'))}`, 'abcdefghijklmnopqrstuvwxyz123456'],
  ['api-key', `ANTHROPIC=${j('sk-', 'ant-', 'api03-', 'Zz'.repeat(20))}`, 'Zz'.repeat(20)],
  ['assignment', `password = "hunter2hunter2"`, 'hunter2hunter2'],
  ['assignment', `{"apiKey": "abc123def456"}`, 'abc123def456'],
  ['assignment', `client_secret: 's3cr3t-value'`, 's3cr3t-value'],
  ['assignment', `DB_PASSWORD=Pa55w0rd!`, 'Pa55w0rd!'],
  ['url-credentials', `DATABASE_URL = postgres://app:Sup3rS3cret@db.internal:5432/app`, 'Sup3rS3cret'],
  ['url-credentials', `mongodb+srv://admin:m0ng0pass@cluster0.example.net/test`, 'm0ng0pass'],
  ['connection-password', `Server=db;Database=app;User Id=sa;Password=Adm1n!pass;`, 'Adm1n!pass'],
];
