// Planted secrets for every redaction rule: [rule name, a line (or lines) of code holding it, the
// part of the secret that must not survive]. Where a broken rule would redact only part of a
// secret, the third column is the part it would leave. Assembled at run time so this file itself
// holds no token a scanner would flag. No secret holds `"`, `\` or a line break, so that a check
// on a JSON request body (where those are escaped) can find it.
const j = (...parts: string[]) => parts.join('');
const PEM = j('-----BEGIN RSA PRIVATE', ' KEY-----\nMIIEowIBAAKCAQEAx7\nabcDEF123\n-----END RSA PRIVATE', ' KEY-----');

/** Deterministic bytes that look random (a linear congruential generator), as base64. */
function noise(seed: number, bytes: number): string {
  let x = seed;
  const out: number[] = [];
  for (let i = 0; i < bytes; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out.push((x >> 16) & 255);
  }
  return Buffer.from(out).toString('base64');
}
const wrap = (b64: string, width: number) => b64.match(new RegExp(`.{1,${width}}`, 'g'))!;

/** A key body as PEM wraps it: 64 columns, the last line short. */
const BODY = wrap(noise(7, 400), 64);
/** An OpenSSH key body: 70 columns. */
const SSH = wrap(noise(11, 300), 70);
/** A kubeconfig's client key: a whole PEM key, base64 again, on one line. */
const KUBE_KEY = Buffer.from([j('-----BEGIN RSA PRIVATE', ' KEY-----'), ...BODY, j('-----END RSA PRIVATE', ' KEY-----'), ''].join('\n')).toString('base64');
const AWS_SESSION = j('IQoJb3JpZ2luX2Vj', 'EHYaCXVzLWVhc3QtMSJHMEUCIQ', noise(3, 240).replace(/=+$/, ''));
const SAS_SIG = 'q8Tz2mFv0Lr7YxKc4NwPbA9sDhEu3GjR1XoVi6Wk5tM%3D';
const DOCKER_AUTH = Buffer.from('deploy:Hq7-ruN3x!').toString('base64');
const BASIC = Buffer.from('admin:c0rrect-h0rse').toString('base64');

export const SECRETS: [rule: string, input: string, secret: string][] = [
  ['private-key', `const key = \`${PEM}\`;`, 'MIIEowIBAAKCAQEAx7'],
  ['private-key', `{"private_key": "${j('-----BEGIN PRIVATE', ' KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE', ' KEY-----\\n')}"}`, 'MIIEvQIBADANBg'],
  // Slices of a key file: the END line without the BEGIN line, neither, the BEGIN line without the END line (last of all, see below).
  ['private-key-end', [BODY[7], BODY[8], j('-----END EC PRIVATE', ' KEY-----')].join('\n'), BODY[8]!],
  ['private-key-body', BODY.slice(2, 6).join('\n'), BODY[3]!],
  ['private-key-body', `"${BODY.slice(1, 4).join('\\n')}\\n${BODY[4]!.slice(0, 20)}`, BODY[4]!.slice(0, 20)],
  ['private-key-body', SSH.slice(1, 4).join('\n'), SSH[2]!],
  ['aws-access-key', `aws_access_key_id = ${j('AKIA', 'IOSFODNN7EXAMPLE')}`, j('AKIA', 'IOSFODNN7EXAMPLE')],
  ['aws-session-token', `[default]\naws_session_token = ${AWS_SESSION}`, AWS_SESSION.slice(40, 120)],
  ['gcp-api-key', `const k = "${j('AIza', 'SyD-abcdefghijklmnopqrstuvwxyz01234')}"`, j('AIza', 'SyD-abcdefghijklmnopqrstuvwxyz01234')],
  ['google-oauth-secret', `"client_secret": "${j('GOCSPX-', '3kq9Xw7RzT1mLp0vNc4bYd8sHf2a')}"`, '3kq9Xw7RzT1mLp0vNc4bYd8sHf2a'],
  ['google-oauth-token', `creds = Credentials(${j('ya29', '.a0AfB_byC8xQ2mT7LpZr4kN1vWd9sHj3GfUe6oYi0aXc5bRq')})`, 'a0AfB_byC8xQ2mT7LpZr4kN1vWd9sHj3GfUe6oYi0aXc5bRq'],
  ['google-oauth-token', `refresh(${j('1//0', 'gLm3Xq9ZrT7vNc1bYd4sHf8aKp2Wj6Ue0oIi5Rt3Ey7Qw')})`, 'gLm3Xq9ZrT7vNc1bYd4sHf8aKp2Wj6Ue0oIi5Rt3Ey7Qw'],
  ['azure-storage-key', `DefaultEndpointsProtocol=https;AccountName=x;AccountKey=${'A'.repeat(86)}==;EndpointSuffix=core.windows.net`, 'A'.repeat(86)],
  ['azure-sas', `fetch('https://acct.blob.core.windows.net/c/f.txt?sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01T00:00:00Z&spr=https&${j('sig', '=', SAS_SIG)}')`, SAS_SIG],
  ['github-token', `token: ${j('ghp_', 'a'.repeat(36))}`, j('ghp_', 'a'.repeat(36))],
  ['github-token', `GH=${j('github_pat_', '11AAAAAAA0', 'b'.repeat(40))}`, j('github_pat_', '11AAAAAAA0')],
  ['gitlab-token', `git clone https://oauth2:${j('glpat-', 'x'.repeat(20))}@gitlab.example.com/g/p.git`, j('glpat-', 'x'.repeat(20))],
  ['slack-token', `slack.post(${JSON.stringify(j('xoxb-', '123456789012-1234567890123-abcdefghijklmnop'))})`, j('xoxb-', '123456789012')],
  ['slack-token', `socketMode(${JSON.stringify(j('xapp-', '1-A0123ABCDEF-4567890123456-', 'f3c9'.repeat(16)))})`, 'f3c9'.repeat(16)],
  ['slack-webhook', `url = "${j('https://hooks.slack.com/services/', 'T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX')}"`, 'T00000000/B00000000'],
  ['jwt', `Authorization: Bearer ${j('eyJhbGciOiJIUzI1NiJ9', '.', 'eyJzdWIiOiIxMjM0NTY3ODkwIn0', '.', 'dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U')}`, 'eyJzdWIiOiIxMjM0NTY3ODkwIn0'],
  ['api-key', `openai.api_key = ${JSON.stringify(j('sk-', 'proj-', 'abcdefghijklmnopqrstuvwxyz123456'))}`, 'abcdefghijklmnopqrstuvwxyz123456'],
  ['api-key', `ANTHROPIC=${j('sk-', 'ant-', 'api03-', 'Zz'.repeat(20))}`, 'Zz'.repeat(20)],
  ['api-key', `stripe(${JSON.stringify(j('sk_', 'test_', '51HxQ2bLm9ZrT7vNc1bYd4sHf8'))})`, '51HxQ2bLm9ZrT7vNc1bYd4sHf8'],
  ['webhook-secret', `stripe.webhooks.constructEvent(body, sig, ${JSON.stringify(j('whsec_', 'Kp2Wj6Ue0oIi5Rt3Ey7QwLm3Xq9ZrT7v'))})`, 'Kp2Wj6Ue0oIi5Rt3Ey7QwLm3Xq9ZrT7v'],
  ['npm-token', `//registry.npmjs.org/:_authToken=${j('npm_', 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8')}`, 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'],
  ['sendgrid-key', `sg.setApiKey(${JSON.stringify(j('SG', '.', 'ngeVfQFYQlKU0ufo8x5d1A', '.', 'TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr'))})`, 'TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr'],
  ['url-credentials', `DATABASE_URL = postgres://app:Sup3rS3cret@db.internal:5432/app`, 'Sup3rS3cret'],
  ['url-credentials', `mongodb+srv://admin:m0ng0pass@cluster0.example.net/test`, 'm0ng0pass'],
  // A password with `@` (the part after it is what a rule stopping at the first `@` leaves), with `/`, and with no user.
  ['url-credentials', `mysql.createConnection('mysql://app:Zq9${'@'}Wx7k@db.internal:3306/app')`, 'Wx7k'],
  ['url-credentials', `amqp.connect('amqp://guest:Rb8/Tq5m@rabbit.internal:5672/vhost')`, 'Rb8/Tq5m'],
  ['url-credentials', `createClient({ url: 'redis://:Hq7Rz2Kp@cache.internal:6379/0' })`, 'Hq7Rz2Kp'],
  ['connection-password', `Server=db;Database=app;User Id=sa;Password=Adm1n!pass;`, 'Adm1n!pass'],
  ['connection-password', `Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=Lm3Xq9ZrT7vNc1bYd4sHf8aKp2Wj6Ue0oIi5Rt3Ey7Q=`, 'Lm3Xq9ZrT7vNc1bYd4sHf8aKp2Wj6Ue0oIi5Rt3Ey7Q='],
  ['authorization-bearer', `curl -H 'Authorization: Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0' https://api.example.com`, '9f8e7d6c5b4a39281706f5e4d3c2b1a0'],
  ['authorization-basic', `headers: { Authorization: 'Basic ${BASIC}' }`, BASIC],
  ['authorization-header', `req.set('Authorization', 'token 7Hq2Wx9Lm4Zr8Tv1Nc6b')`, '7Hq2Wx9Lm4Zr8Tv1Nc6b'],
  ['registry-auth', `{"auths": {"https://index.docker.io/v1/": {"auth": "${DOCKER_AUTH}"}}}`, DOCKER_AUTH],
  ['assignment-quoted', `password = "hunter2hunter2"`, 'hunter2hunter2'],
  ['assignment-quoted', `{"apiKey": "abc123def456"}`, 'abc123def456'],
  ['assignment-quoted', `client_secret: 's3cr3t-value'`, 's3cr3t-value'],
  ['assignment-quoted', `$dbPass = 'tr0ub4dor';`, 'tr0ub4dor'],
  ['assignment-bare', `DB_PASSWORD=Pa55w0rd!`, 'Pa55w0rd!'],
  ['assignment-bare', `  smtp_password: c0rrect-horse`, 'c0rrect-horse'],
  ['assignment-compact', `DB_PASS=swordfish mysqld --user=app`, 'swordfish'],
  ['assignment-compact', `pg_dump --password=opensesame app`, 'opensesame'],
  ['assignment-compact', `spring.datasource.password=Sup3r$ecret`, 'Sup3r$ecret'],
  ['assignment-token', `const token = 'q8Zr3Lm2Xw9Tn4Vb'`, 'q8Zr3Lm2Xw9Tn4Vb'],
  ['assignment-token', `{"identitytoken": "d41f7c2e-Hq7Rz2Kp-9b3a"}`, 'd41f7c2e-Hq7Rz2Kp-9b3a'],
  ['high-entropy', `const signingKey = "Xq9ZrT7vNc1bYd4sHf8aKp2Wj6Ue0oIi";`, 'Xq9ZrT7vNc1bYd4sHf8aKp2Wj6Ue0oIi'],
  ['high-entropy', `users:\n- name: admin\n  user:\n    client-key-data: ${KUBE_KEY}`, KUBE_KEY.slice(200, 280)],
  ['high-entropy', `webhook_salt = "4f9a0c3be81d62f7a95c0e4d1b8f37a26c5e90d1"`, '4f9a0c3be81d62f7a95c0e4d1b8f37a26c5e90d1'],
  // Last: the body of a key cut after its BEGIN line runs on over any base64 that follows it.
  ['private-key-begin', [j('-----BEGIN OPENSSH PRIVATE', ' KEY-----'), SSH[0], SSH[1]].join('\n'), SSH[1]!],
];
