// The deploy/ files parse, say what matters (flags, offline, health checks, GPU split), agree with
// each other (pool members, models), use metric names vLLM really exports, and the tandem
// configs in deploy/README.md validate against tandem's own schema.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { resolveConfig } from '../../server/src/config/load.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DEPLOY = join(REPO, 'deploy');

const text = (rel: string): string => readFileSync(join(DEPLOY, rel), 'utf8');
// Compose files use YAML merge keys (<<: *anchor), as Docker Compose does.
const yaml = (rel: string): any => parse(text(rel), { merge: true });

// ---------------------------------------------------------------------------------------------
// Helpers

interface Engine {
  name: string;
  model: string;
  flags: Map<string, string | true>;
  gpus: string[];
  svc: any;
}

/** `vllm serve MODEL --flag=value --switch ...` as written in the compose files. */
function engineOf(name: string, svc: any): Engine {
  const [model, ...args] = svc.command as string[];
  const flags = new Map<string, string | true>();
  for (const a of args) {
    expect(a, `${name}: flags are written --name=value`).toMatch(/^--[a-z0-9-]+(=.+)?$/);
    const eq = a.indexOf('=');
    if (eq < 0) flags.set(a, true);
    else flags.set(a.slice(0, eq), a.slice(eq + 1));
  }
  const devices = svc.deploy?.resources?.reservations?.devices ?? [];
  const gpus = devices.flatMap((d: any) => d.device_ids ?? []);
  return { name, model: model!, flags, gpus, svc };
}

function vllmEngines(compose: any): Engine[] {
  return Object.entries(compose.services as Record<string, any>)
    // The image also runs one-shot helpers (the workstation's weights download): engines are `vllm serve`.
    .filter(([, s]) => String(s.image).startsWith('vllm/vllm-openai:') && !(Array.isArray(s.entrypoint) && s.entrypoint[0] === 'python3'))
    .map(([n, s]) => engineOf(n, s));
}

/** `server host:port ...;` lines of one `upstream NAME { }` block of nginx.conf. */
function upstreamServers(conf: string, name: string): string[] {
  const block = new RegExp(`upstream ${name} \\{([^}]*)\\}`).exec(conf);
  expect(block, `upstream ${name} in nginx.conf`).not.toBeNull();
  return [...block![1]!.matchAll(/^\s*server\s+(\S+?)[\s;]/gm)].map((m) => m[1]!);
}

const num = (v: string | true | undefined): number => Number(v);

// ---------------------------------------------------------------------------------------------
// vLLM names, from vllm/v1/metrics/loggers.py (PrometheusStatLogger). Prometheus exposes a
// counter as NAME_total and a histogram as NAME_bucket/_sum/_count.

const VLLM_GAUGES = ['vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc'];
const VLLM_COUNTERS = [
  'vllm:prefix_cache_queries', 'vllm:prefix_cache_hits', 'vllm:gpu_prefix_cache_queries', 'vllm:gpu_prefix_cache_hits',
  'vllm:num_preemptions', 'vllm:prompt_tokens', 'vllm:generation_tokens', 'vllm:request_success',
];
const VLLM_HISTOGRAMS = [
  'vllm:time_to_first_token_seconds', 'vllm:time_per_output_token_seconds', 'vllm:e2e_request_latency_seconds',
  'vllm:request_queue_time_seconds', 'vllm:request_inference_time_seconds', 'vllm:request_prefill_time_seconds',
  'vllm:request_decode_time_seconds', 'vllm:request_prompt_tokens', 'vllm:request_generation_tokens',
  'vllm:iteration_tokens_total', 'vllm:request_max_num_generation_tokens', 'vllm:request_params_n', 'vllm:request_params_max_tokens',
];

/** Every `vllm:...` series a PromQL expression reads is one vLLM exports, with the right suffix. */
function expectRealVllmSeries(expr: string, where: string): string[] {
  const names = [...expr.matchAll(/vllm:[a-z0-9_]+/g)].map((m) => m[0]);
  for (const n of names) {
    const ok =
      VLLM_GAUGES.includes(n) ||
      (n.endsWith('_total') && VLLM_COUNTERS.includes(n.slice(0, -'_total'.length))) ||
      VLLM_HISTOGRAMS.some((h) => n === `${h}_bucket` || n === `${h}_sum` || n === `${h}_count`);
    expect(ok, `${where}: ${n} is not a series vLLM exports`).toBe(true);
  }
  return names;
}

// ---------------------------------------------------------------------------------------------

const compose = yaml('vllm/docker-compose.yml');
const engines = vllmEngines(compose);
const fimEngines = engines.filter((e) => e.name.startsWith('vllm-fim-'));
const chatEngine = engines.find((e) => e.name === 'vllm-chat')!;
const nginxConf = text('gateway/nginx.conf');
const FIM_MODEL = 'Qwen/Qwen2.5-Coder-7B';
const CHAT_MODEL = 'Qwen/Qwen2.5-Coder-32B-Instruct';

describe('deploy/vllm/docker-compose.yml (8 x H200)', () => {
  it('has four FIM engines with the base coding model and one chat engine with the instruct model', () => {
    expect(fimEngines.map((e) => e.name).sort()).toEqual(['vllm-fim-0', 'vllm-fim-1', 'vllm-fim-2', 'vllm-fim-3']);
    for (const e of fimEngines) expect(e.model).toBe(FIM_MODEL);
    expect(chatEngine.model).toBe(CHAT_MODEL);
    expect(engines).toHaveLength(5);
  });

  it('gives every engine the flags that matter', () => {
    for (const e of engines) {
      expect(e.svc.entrypoint).toEqual(['vllm', 'serve']);
      expect(e.flags.get('--port')).toBe('8000');
      expect(e.flags.get('--host')).toBe('0.0.0.0');
      expect(e.flags.get('--enable-prefix-caching'), `${e.name}: prefix caching on`).toBe(true);
      expect(e.flags.has('--no-enable-prefix-caching')).toBe(false);
      expect(e.flags.get('--enable-prompt-tokens-details'), `${e.name}: cached_tokens reported`).toBe(true);
      expect(num(e.flags.get('--gpu-memory-utilization'))).toBeGreaterThanOrEqual(0.8);
      expect(num(e.flags.get('--gpu-memory-utilization'))).toBeLessThanOrEqual(0.95);
      expect(Number.isInteger(num(e.flags.get('--max-model-len')))).toBe(true);
      expect(e.flags.has('--enable-log-requests'), `${e.name}: prompts are not logged`).toBe(false);
    }
    // FIM prompts are capped at 4096 + 128 tokens by tandem; the window must hold them.
    for (const e of fimEngines) expect(num(e.flags.get('--max-model-len'))).toBeGreaterThanOrEqual(4096 + 128);
    expect(num(chatEngine.flags.get('--max-model-len'))).toBeGreaterThanOrEqual(32768);
  });

  it('splits the 8 GPUs: one per FIM engine, tensor parallel over the rest for chat', () => {
    for (const e of fimEngines) {
      expect(e.gpus).toHaveLength(1);
      expect(e.flags.get('--tensor-parallel-size') ?? '1').toBe('1');
    }
    expect(num(chatEngine.flags.get('--tensor-parallel-size'))).toBe(chatEngine.gpus.length);
    expect(chatEngine.gpus).toHaveLength(4);
    expect(chatEngine.svc.ipc).toBe('host');
    const all = engines.flatMap((e) => e.gpus).sort();
    expect(all).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
  });

  it('runs offline from a read-only model cache volume', () => {
    expect(compose.volumes['model-cache']).toBeDefined();
    for (const e of engines) {
      expect(e.svc.environment.HF_HUB_OFFLINE).toBe('1');
      expect(e.svc.environment.TRANSFORMERS_OFFLINE).toBe('1');
      expect(e.svc.environment.VLLM_NO_USAGE_STATS).toBe('1');
      const mount = (e.svc.volumes as string[]).find((v) => v.startsWith('model-cache:'));
      expect(mount, `${e.name}: model cache mounted`).toBeDefined();
      const [, target, mode] = mount!.split(':');
      expect(target).toBe(e.svc.environment.HF_HOME);
      expect(mode).toBe('ro');
    }
  });

  it('health-checks every service against /health, with time to load the weights', () => {
    for (const e of engines) {
      expect(e.svc.healthcheck.test.join(' ')).toContain('http://127.0.0.1:8000/health');
      expect(e.svc.healthcheck.start_period).toMatch(/^\d+m$/);
    }
    for (const name of ['gateway', 'prometheus', 'grafana']) expect(compose.services[name].healthcheck?.test, name).toBeDefined();
  });

  it('keeps engines off the host network: the gateway on 443 is the only way in', () => {
    for (const e of engines) {
      expect(e.svc.ports, `${e.name} publishes no port`).toBeUndefined();
      expect(e.svc.networks).toEqual(['backend']);
    }
    expect(compose.networks.backend.internal).toBe(true);
    expect(compose.services.gateway.ports).toEqual(['443:443']);
    for (const name of ['prometheus', 'grafana']) {
      expect(compose.services[name].profiles).toEqual(['monitoring']);
      for (const p of compose.services[name].ports as string[]) expect(p.startsWith('127.0.0.1:'), `${name} on loopback`).toBe(true);
    }
  });

  it('mounts files that exist in deploy/', () => {
    const composeDir = join(DEPLOY, 'vllm');
    for (const [name, svc] of Object.entries(compose.services as Record<string, any>)) {
      for (const v of (svc.volumes ?? []) as string[]) {
        const src = v.split(':')[0]!;
        if (!src.startsWith('.')) continue; // named volume, or ${VAR:-default}
        expect(existsSync(resolve(composeDir, src)), `${name}: ${src}`).toBe(true);
      }
    }
    // Defaults of the env-overridable gateway mounts point at the git-ignored token file and TLS folder.
    expect(compose.services.gateway.volumes).toContain('../gateway/nginx.conf:/etc/nginx/nginx.conf:ro');
  });
});

describe('deploy/vllm/docker-compose.workstation.yml (one consumer GPU)', () => {
  const ws = yaml('vllm/docker-compose.workstation.yml');
  const [e, ...rest] = vllmEngines(ws);

  it('runs one FIM engine on loopback port 8000, tandem\'s default backend', () => {
    expect(rest).toHaveLength(0);
    expect(e!.model).toBe(FIM_MODEL);
    expect(e!.svc.ports).toEqual(['127.0.0.1:8000:8000']);
    expect(e!.flags.get('--enable-prefix-caching')).toBe(true);
    expect(e!.flags.get('--enable-prompt-tokens-details')).toBe(true);
    expect(num(e!.flags.get('--max-model-len'))).toBeGreaterThanOrEqual(4096 + 128);
    expect(e!.flags.has('--gpu-memory-utilization')).toBe(true);
    expect(e!.svc.healthcheck.test.join(' ')).toContain('/health');
    // The engine is always offline: the weights service has filled the cache before it starts.
    expect(e!.svc.environment.HF_HUB_OFFLINE).toBe('1');
    expect(e!.svc.depends_on).toEqual({ weights: { condition: 'service_completed_successfully' } });
    expect(e!.svc.deploy.resources.reservations.devices[0].count).toBe(1);
  });

  it('the first `up` fetches the weights once, into the engine\'s cache; later ones stay offline', () => {
    const w = ws.services.weights;
    expect(w.image).toBe(e!.svc.image);
    expect(w.environment.MODEL).toBe(e!.model);
    expect(w.environment.HF_HOME).toBe(e!.svc.environment.HF_HOME);
    expect(w.volumes).toEqual(e!.svc.volumes);
    expect(w.restart).toBe('no');
    // The script itself, run by python3 against a stand-in huggingface_hub that records its calls.
    const dir = mkdtempSync(join(tmpdir(), 'tandem-weights-'));
    try {
      mkdirSync(join(dir, 'huggingface_hub'));
      writeFileSync(
        join(dir, 'huggingface_hub', '__init__.py'),
        [
          'import os',
          'def snapshot_download(repo, local_files_only=False):',
          '    open(os.environ["CALLS"], "a").write(f"{repo} {local_files_only}\\n")',
          '    if local_files_only and not os.path.exists(os.environ["CACHED"]): raise OSError("not cached")',
          '    if not local_files_only and os.environ.get("OFFLINE"): raise OSError("no network")',
          '    open(os.environ["CACHED"], "w").write("x")',
          '',
        ].join('\n'),
      );
      const calls = join(dir, 'calls');
      const run = (extra: Record<string, string> = {}) => spawnSync('python3', ['-c', w.command[0]], { env: { ...process.env, PYTHONPATH: dir, MODEL: w.environment.MODEL, CALLS: calls, CACHED: join(dir, 'cached'), ...extra }, encoding: 'utf8' });
      const offlineFirst = run({ OFFLINE: '1' });
      expect(offlineFirst.status).toBe(1);
      expect(offlineFirst.stderr).toContain(`weights: cannot download ${FIM_MODEL} (no network). On a machine without internet, copy a Hugging Face cache`);
      const first = run();
      expect([first.status, first.stdout]).toEqual([0, `weights: ${FIM_MODEL} is not in the cache yet: downloading it once (~15 GB for a 7B model)\nweights: ${FIM_MODEL} downloaded; later starts stay offline\n`]);
      const later = run({ OFFLINE: '1' });
      expect([later.status, later.stdout]).toEqual([0, `weights: ${FIM_MODEL} is in the cache; staying offline\n`]);
      expect(readFileSync(calls, 'utf8')).toBe([`${FIM_MODEL} True`, `${FIM_MODEL} False`, `${FIM_MODEL} True`, `${FIM_MODEL} False`, `${FIM_MODEL} True`, ''].join('\n'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pinned images', () => {
  it('no deploy file runs an image by a moving tag ("latest" or none)', () => {
    const files = ['vllm/docker-compose.yml', 'vllm/docker-compose.workstation.yml', 'ollama/docker-compose.yml', 'tgi/docker-compose.yml'];
    for (const f of files) {
      for (const [name, svc] of Object.entries(yaml(f).services as Record<string, any>)) {
        expect(String(svc.image), `${f}: ${name}`).toMatch(/^[\w./-]+:(?!latest$)[\w.-]+$/);
      }
    }
    const values = yaml('kubernetes/values.yaml');
    // A version (the router's tags have no "v"; its dev builds carry the commit), never a moving name.
    expect(values.routerSpec.tag).toMatch(/^v?\d+\.\d+\.\d+([.-][\w.-]+)?$/);
    for (const spec of values.servingEngineSpec.modelSpec) expect(spec.tag, spec.name).not.toBe('latest');
    for (const f of [...files, 'kubernetes/values.yaml']) expect(text(f), f).not.toMatch(/(:|tag: *)"?latest"?\s*$/m);
  });
});

describe('deploy/ollama: the shared server\'s proxy', () => {
  it('the compose proxy service mounts the committed nginx.conf, behind the `shared` profile', () => {
    const proxy = yaml('ollama/docker-compose.yml').services.proxy;
    expect(proxy.profiles).toEqual(['shared']);
    expect(proxy.volumes).toContain('./nginx.conf:/etc/nginx/nginx.conf:ro');
    expect(existsSync(join(DEPLOY, 'ollama/nginx.conf'))).toBe(true);
    // Ollama itself stays on loopback; only the proxy is published.
    expect(yaml('ollama/docker-compose.yml').services.ollama.ports).toEqual(['127.0.0.1:11434:11434']);
  });
});

describe('deploy/gateway', () => {
  it('nginx upstreams are exactly the compose engines', () => {
    expect(upstreamServers(nginxConf, 'tandem_fim').sort()).toEqual(fimEngines.map((e) => `${e.name}:8000`).sort());
    expect(upstreamServers(nginxConf, 'tandem_chat')).toEqual(['vllm-chat:8000']);
  });

  it('routes /fim/v1/ and /chat/v1/ to the pools\' /v1/, pins developers, streams, and passes aborts', () => {
    expect(nginxConf).toMatch(/location \/fim\/v1\/ \{[^}]*proxy_pass http:\/\/tandem_fim\/v1\/;/);
    expect(nginxConf).toMatch(/location \/chat\/v1\/ \{[^}]*proxy_pass http:\/\/tandem_chat\/v1\/;/);
    expect(nginxConf).toMatch(/hash "\$tandem_client \$http_x_tandem_user" consistent;/);
    expect(nginxConf).toMatch(/^\s*proxy_buffering off;/m);
    expect(nginxConf).toMatch(/^\s*proxy_ignore_client_abort off;/m);
    expect(nginxConf).toMatch(/^\s*proxy_set_header Authorization "";/m);
    expect(nginxConf).toMatch(/^\s*include \/etc\/nginx\/tandem\/tokens\.map;/m);
    expect(nginxConf).toMatch(/log_format tandem_audit escape=json/);
    expect(nginxConf).not.toMatch(/\$request_body|\$http_authorization"/);
  });

  it('the token file example has the format the map expects', () => {
    const lines = text('gateway/tokens.map.example').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatch(/^"Bearer [0-9a-f]{64}" [A-Za-z0-9._-]+;$/);
    expect(text('gateway/.gitignore')).toMatch(/^tokens\.map$/m);
  });

  it('LiteLLM: on-prem model names never fall back to the cloud', () => {
    const lite = yaml('gateway/litellm.yaml');
    const byName = new Map<string, any[]>();
    for (const m of lite.model_list) byName.set(m.model_name, [...(byName.get(m.model_name) ?? []), m]);
    const apiBases = (n: string) => byName.get(n)!.map((m) => m.litellm_params.api_base);
    expect(apiBases('tandem-fim').sort()).toEqual(fimEngines.map((e) => `http://${e.name}:8000/v1`).sort());
    expect(apiBases('tandem-chat')).toEqual(['http://vllm-chat:8000/v1']);
    for (const m of [...byName.get('tandem-fim')!, ...byName.get('tandem-chat')!]) expect(m.litellm_params.model).toMatch(/^hosted_vllm\//);
    const fallbacks: Record<string, string[]>[] = lite.router_settings.fallbacks;
    const from = fallbacks.flatMap((f) => Object.keys(f));
    expect(from).not.toContain('tandem-fim');
    expect(from).not.toContain('tandem-chat');
    expect(from).toEqual(['tandem-chat-any']);
    expect(lite.litellm_settings.turn_off_message_logging).toBe(true);
    expect(lite.general_settings.master_key).toBe('os.environ/LITELLM_MASTER_KEY');
  });
});

describe('deploy/kubernetes/values.yaml (vLLM production-stack chart)', () => {
  const values = yaml('kubernetes/values.yaml');
  const specs: any[] = values.servingEngineSpec.modelSpec;
  const spec = (name: string) => specs.find((s) => s.name === name);

  it('has the same two pools, models and engine version as the compose file', () => {
    expect(specs.map((s) => s.name)).toEqual(['fim', 'chat']);
    expect(spec('fim').modelURL).toBe(FIM_MODEL);
    expect(spec('chat').modelURL).toBe(CHAT_MODEL);
    const tag = String(compose.services['vllm-chat'].image).split(':')[1];
    for (const s of specs) expect(`${s.repository}:${s.tag}`).toBe(`vllm/vllm-openai:${tag}`);
    expect(spec('fim').vllmConfig.maxModelLen).toBe(num(fimEngines[0]!.flags.get('--max-model-len')));
    expect(spec('chat').vllmConfig.maxModelLen).toBe(num(chatEngine.flags.get('--max-model-len')));
  });

  it('turns prefix caching on (the chart passes --no-enable-prefix-caching otherwise) and reports cached tokens', () => {
    for (const s of specs) {
      expect(s.vllmConfig.enablePrefixCaching, s.name).toBe(true);
      expect(s.vllmConfig.extraArgs).toContain('--enable-prompt-tokens-details');
      expect(typeof s.vllmConfig.gpuMemoryUtilization).toBe('number');
    }
  });

  it('one GPU per FIM replica, tensor parallel = GPUs per chat pod', () => {
    expect(spec('fim').requestGPU).toBe(1);
    expect(spec('fim').replicaCount).toBe(fimEngines.length);
    expect(spec('chat').vllmConfig.tensorParallelSize).toBe(spec('chat').requestGPU);
    expect(spec('chat').vllmConfig.tensorParallelSize).toBe(num(chatEngine.flags.get('--tensor-parallel-size')));
  });

  it('routes by session on the x-tandem-user header that tandem sends', () => {
    expect(values.routerSpec.routingLogic).toBe('session');
    expect(values.routerSpec.sessionKey).toBe('x-tandem-user');
  });

  it('runs offline and health-checks /health', () => {
    for (const s of specs) {
      const env = Object.fromEntries((s.env as { name: string; value: string }[]).map((e) => [e.name, e.value]));
      expect(env.HF_HUB_OFFLINE, s.name).toBe('1');
      expect(s.pvcStorage, `${s.name}: model cache volume`).toBeDefined();
    }
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) expect(values.servingEngineSpec[probe].httpGet.path).toBe('/health');
  });

  it('labels scraped engines with their pool, as the dashboard and alerts expect', () => {
    expect(values.servingEngineSpec.serviceMonitor.enabled).toBe(true);
    expect(values.servingEngineSpec.serviceMonitor.relabelings).toContainEqual({ sourceLabels: ['__meta_kubernetes_pod_label_model'], targetLabel: 'pool' });
  });
});

describe('deploy/monitoring', () => {
  const prom = yaml('monitoring/prometheus.yml');
  const alerts = yaml('monitoring/alerts.yml');
  const dashboard = JSON.parse(text('monitoring/grafana/dashboards/tandem-vllm.json'));

  it('Prometheus scrapes /metrics of every engine, labelled with its pool', () => {
    const job = prom.scrape_configs.find((j: any) => j.job_name === 'vllm');
    expect(job.metrics_path).toBe('/metrics');
    const byPool = (pool: string) => job.static_configs.filter((c: any) => c.labels.pool === pool).flatMap((c: any) => c.targets).sort();
    expect(byPool('fim')).toEqual(fimEngines.map((e) => `${e.name}:8000`).sort());
    expect(byPool('chat')).toEqual(['vllm-chat:8000']);
    // The rule file is where the compose file mounts alerts.yml.
    expect(compose.services.prometheus.volumes).toContain(`../monitoring/alerts.yml:${prom.rule_files[0]}:ro`);
  });

  it('alerts on a dead engine and a growing queue, with real vLLM metric names', () => {
    const rules: any[] = alerts.groups.flatMap((g: any) => g.rules);
    for (const r of rules) {
      expect(r.alert).toMatch(/^[A-Za-z]+$/);
      expect(typeof r.expr).toBe('string');
      expect(r.labels.severity).toMatch(/^(critical|warning)$/);
      expect(r.annotations.summary).toBeTruthy();
      expectRealVllmSeries(r.expr, r.alert);
    }
    const rule = (name: string) => rules.find((r) => r.alert === name);
    expect(rule('VllmEngineDown').expr).toMatch(/\bup\{pool!=""\} == 0/);
    expect(rule('VllmQueueGrowing').expr).toContain('vllm:num_requests_waiting');
    expect(rule('VllmQueueGrowing').expr).toMatch(/deriv\(/);
  });

  it('the dashboard shows TTFT p50/p95, queue, KV cache, prefix-cache hit rate and requests per pool', () => {
    const exprs = (titlePart: string): string[] => {
      const p = dashboard.panels.find((x: any) => x.title.includes(titlePart));
      expect(p, `panel "${titlePart}"`).toBeDefined();
      return p.targets.map((t: any) => t.expr as string);
    };
    const ttft = exprs('Time to first token');
    expect(ttft.some((e) => e.startsWith('histogram_quantile(0.5,') && e.includes('vllm:time_to_first_token_seconds_bucket'))).toBe(true);
    expect(ttft.some((e) => e.startsWith('histogram_quantile(0.95,') && e.includes('vllm:time_to_first_token_seconds_bucket'))).toBe(true);
    expect(exprs('Queue').join(' ')).toContain('vllm:num_requests_waiting');
    expect(exprs('KV-cache').join(' ')).toContain('vllm:kv_cache_usage_perc');
    const prefix = exprs('Prefix-cache hit rate').join(' ');
    expect(prefix).toContain('vllm:prefix_cache_hits_total');
    expect(prefix).toContain('vllm:prefix_cache_queries_total');
    expect(exprs('Requests per pool').join(' ')).toMatch(/sum by \(pool\) \(rate\(vllm:request_success_total/);
  });

  it('every dashboard query reads only series vLLM exports, grouped by pool', () => {
    const ids = new Set<number>();
    for (const p of dashboard.panels) {
      expect(ids.has(p.id)).toBe(false);
      ids.add(p.id);
      for (const t of p.targets) {
        const names = expectRealVllmSeries(t.expr, p.title);
        expect(names.length > 0 || t.expr.includes('up{'), `${p.title}: reads vLLM or up`).toBe(true);
        expect(t.expr, `${p.title}: split by pool`).toContain('pool');
      }
    }
    expect(dashboard.uid).toBe('tandem-vllm');
  });

  it('Grafana provisioning loads that dashboard folder from Prometheus', () => {
    const ds = yaml('monitoring/grafana/provisioning/datasources/prometheus.yml');
    expect(ds.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090', uid: 'prometheus' });
    const dashProv = yaml('monitoring/grafana/provisioning/dashboards/tandem.yml');
    const mount = (compose.services.grafana.volumes as string[]).find((v) => v.startsWith('../monitoring/grafana/dashboards:'));
    expect(mount?.split(':')[1]).toBe(dashProv.providers[0].options.path);
  });
});

describe('deploy/tgi and deploy/ollama', () => {
  it('TGI (legacy) is marked deprecated, runs offline, and is health-checked', () => {
    const tgi = yaml('tgi/docker-compose.yml');
    const svc = tgi.services['tgi-fim'];
    expect(svc.command).toContain(`--model-id=${FIM_MODEL}`);
    expect(svc.environment.HF_HUB_OFFLINE).toBe('1');
    expect(svc.healthcheck.test.join(' ')).toContain('/health');
    expect(text('tgi/docker-compose.yml')).toMatch(/Deprecated: .*maintenance mode/);
    expect(text('tgi/README.md')).toMatch(/\*\*Deprecated\.\*\* .*maintenance mode/s);
  });

  it('Ollama keeps models loaded and sets num_ctx in the models themselves', () => {
    const ol = yaml('ollama/docker-compose.yml');
    const svc = ol.services.ollama;
    expect(svc.environment.OLLAMA_KEEP_ALIVE).toBeTruthy();
    expect(svc.healthcheck.test).toEqual(['CMD', 'ollama', 'list']);
    expect(svc.ports).toEqual(['127.0.0.1:11434:11434']);
    const fim = text('ollama/Modelfile.fim');
    expect(fim).toMatch(/^FROM qwen2\.5-coder:[0-9.]+b-base$/m);
    expect(fim).toMatch(/^PARAMETER num_ctx \d+$/m);
    expect(text('ollama/Modelfile.chat')).toMatch(/^PARAMETER num_ctx \d+$/m);
  });
});

describe('deploy/README.md', () => {
  const readme = text('README.md');
  const blocks = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);

  it('names a file for each kind of site', () => {
    for (const site of ['8 x H200', 'one consumer GPU', 'CPU-only laptop', 'Cloud only']) expect(readme).toContain(site);
    for (const [, path] of readme.matchAll(/`((?:vllm|gateway|monitoring|kubernetes|ollama|tgi)\/[A-Za-z0-9._/-]+)`/g)) {
      expect(existsSync(join(DEPLOY, path!)), `deploy/${path} named in README exists`).toBe(true);
    }
  });

  it('every tandem config in it is valid for tandem', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    blocks.forEach((b, i) => {
      const data = JSON.parse(b);
      const result = resolveConfig([{ origin: `deploy/README.md json block ${i + 1}`, trust: 'user', data }]);
      expect(result.ok ? '' : result.error).toBe('');
    });
  });

  it('the data-centre config reaches the gateway paths with the token from TANDEM_GATEWAY_TOKEN', () => {
    const dc = JSON.parse(blocks[0]!);
    expect(dc.backends.fim).toMatchObject({ kind: 'vllm', location: 'onprem', model: FIM_MODEL, apiKeyEnv: 'TANDEM_GATEWAY_TOKEN' });
    expect(dc.backends.chat).toMatchObject({ kind: 'vllm', location: 'onprem', model: CHAT_MODEL, apiKeyEnv: 'TANDEM_GATEWAY_TOKEN' });
    expect(new URL(dc.backends.fim.url).pathname).toBe('/fim');
    expect(new URL(dc.backends.chat.url).pathname).toBe('/chat');
    expect(dc.privacy.airGapped).toBe(true);
  });
});
