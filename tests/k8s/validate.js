// validate.js FILE... -- check Kubernetes manifests against the API's
// schemas, offline, as tests/k8s/validate.sh runs it (with NODE_PATH at the
// node_modules it installed: kubernetes-models, yaml).
//
// Each YAML document is checked by the JSON schema of its apiVersion and
// kind, from the Kubernetes OpenAPI spec as compiled by kubernetes-models
// (types, required fields, enums, formats).  Like kubeconform --strict it
// also refuses fields the schema does not know (a misspelt field is
// otherwise dropped without a word by the API server): the validator reads
// every property its schema defines, so a field of an object it looked into
// that it never read is unknown.  Plus what the API server checks beyond the
// schema and a typo would break: metadata.name present and a DNS-1123
// subdomain, and every volumeMount naming a volume of the pod (or a
// volumeClaimTemplate of the StatefulSet).
//
// kustomize's own Kustomization is no API object: it is checked for known
// top-level keys, and its resources must be exactly the other files of its
// directory.
//
// Prints one line per document and per problem; exit 0 when every document
// passed, 1 otherwise.
"use strict";
const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

const modelsDir = path.dirname(require.resolve("kubernetes-models/package.json"));
const modelsVersion = require("kubernetes-models/package.json").version;
// As its changelog says (4.5.0: "Update schema version to v1.33.0").
const kubernetesVersion = modelsVersion === "4.5.1" ? "1.33.0" : "(see the kubernetes-models changelog)";
// The compiled validators leave messages out; ajv-i18n, which
// @kubernetes-models/validate uses for them, puts them in.
const localize = require(require.resolve("ajv-i18n", {
    paths: [path.dirname(require.resolve("@kubernetes-models/validate"))],
})).en;

// kubernetes-models/<group>/<version>/<Kind>.js exports a class whose
// validate function is the compiled schema; the schema module itself is
// _schemas/IoK8s...<Kind>.js, named in the class module's require().
function schemaFor(apiVersion, kind) {
    const file = path.join(modelsDir, apiVersion, kind + ".js");
    if (!/^[A-Za-z0-9.\-/]+$/.test(apiVersion) || !/^[A-Za-z0-9]+$/.test(kind) || !fs.existsSync(file))
        return null;
    const src = fs.readFileSync(file, "utf8");
    const m = src.match(/require\("(\.\.\/(?:\.\.\/)*_schemas\/[A-Za-z0-9]+\.js)"\)/);
    if (!m) return null;
    return require(path.join(path.dirname(file), m[1])).validate;
}

// Wrap a value so that every property the validator reads is noted: seen
// maps each object to the set of keys read, or true when it listed them all
// (a map such as labels, checked key by key).
function watch(value, seen) {
    const proxies = new Map();
    function wrap(v) {
        if (v === null || typeof v !== "object") return v;
        if (proxies.has(v)) return proxies.get(v);
        if (!seen.has(v)) seen.set(v, Array.isArray(v) ? true : new Set());
        const note = (t, k) => {
            const s = seen.get(t);
            if (s !== true && typeof k === "string") s.add(k);
        };
        const p = new Proxy(v, {
            get(t, k) {
                note(t, k);
                return wrap(t[k]);
            },
            has(t, k) {
                note(t, k);
                return k in t;
            },
            getOwnPropertyDescriptor(t, k) {
                note(t, k);
                return Reflect.getOwnPropertyDescriptor(t, k);
            },
            ownKeys(t) {
                seen.set(t, true);
                return Reflect.ownKeys(t);
            },
        });
        proxies.set(v, p);
        return p;
    }
    return wrap(value);
}

// Paths of the fields no schema read, under objects the validator entered.
function unknownFields(value, seen, at, out) {
    if (value === null || typeof value !== "object") return out;
    const s = seen.get(value);
    if (s === undefined) return out; // not looked into: free-form (e.g. x-kubernetes-preserve-unknown-fields)
    for (const k of Object.keys(value)) {
        const p = at + "/" + k;
        if (s !== true && !Array.isArray(value) && !s.has(k)) out.push(p);
        else unknownFields(value[k], seen, p, out);
    }
    return out;
}

function schemaErrors(errors) {
    localize(errors);
    return errors.map((e) => {
        const allowed = e.params && e.params.allowedValues ? ": " + e.params.allowedValues.join(", ") : "";
        return `${e.instancePath || "/"}: ${e.message}${allowed}`;
    });
}

const dns1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

// What the API server refuses beyond the schema, for the kinds here.
function serverChecks(doc) {
    const problems = [];
    const name = doc.metadata && doc.metadata.name;
    if (typeof name !== "string" || name.length === 0) problems.push("/metadata/name: missing");
    else if (name.length > 253 || !dns1123.test(name)) problems.push(`/metadata/name: "${name}" is not a DNS-1123 subdomain`);
    const spec = doc.spec || {};
    const pod = doc.kind === "Pod" ? spec : spec.template && spec.template.spec;
    if (pod) {
        const volumes = new Set((pod.volumes || []).map((v) => v.name));
        for (const t of spec.volumeClaimTemplates || []) volumes.add(t.metadata && t.metadata.name);
        const base = doc.kind === "Pod" ? "/spec" : "/spec/template/spec";
        for (const list of ["initContainers", "containers"]) {
            (pod[list] || []).forEach((c, i) => {
                (c.volumeMounts || []).forEach((m, j) => {
                    if (!volumes.has(m.name))
                        problems.push(`${base}/${list}/${i}/volumeMounts/${j}/name: no volume named "${m.name}"`);
                });
            });
        }
    }
    return problems;
}

const kustomizationKeys = new Set([
    "apiVersion", "kind", "metadata", "resources", "components", "crds", "namespace", "namePrefix",
    "nameSuffix", "commonLabels", "labels", "commonAnnotations", "images", "replicas", "patches",
    "patchesStrategicMerge", "patchesJson6902", "configMapGenerator", "secretGenerator", "generatorOptions",
    "generators", "transformers", "validators", "replacements", "vars", "openapi", "helmCharts",
    "helmGlobals", "buildMetadata", "sortOptions", "configurations", "bases",
]);
const imageKeys = new Set(["name", "newName", "newTag", "digest", "tagSuffix"]);

function checkKustomization(file, doc) {
    const problems = [];
    for (const k of Object.keys(doc)) if (!kustomizationKeys.has(k)) problems.push(`/${k}: unknown field`);
    (doc.images || []).forEach((im, i) => {
        for (const k of Object.keys(im)) if (!imageKeys.has(k)) problems.push(`/images/${i}/${k}: unknown field`);
        if (!im.name) problems.push(`/images/${i}/name: missing`);
    });
    const dir = path.dirname(file);
    const listed = (doc.resources || []).slice().sort();
    const present = fs
        .readdirSync(dir)
        .filter((f) => /\.ya?ml$/.test(f) && path.join(dir, f) !== file)
        .sort();
    for (const r of listed) if (!present.includes(r)) problems.push(`/resources: "${r}" is not a file in ${dir}`);
    for (const f of present) if (!listed.includes(f)) problems.push(`/resources: ${f} is not listed`);
    return problems;
}

console.log(`kubernetes-models ${modelsVersion}: the schemas of Kubernetes ${kubernetesVersion}`);
let failed = 0;
let passed = 0;
for (const file of process.argv.slice(2)) {
    let docs;
    try {
        docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
    } catch (e) {
        console.log(`${file}: FAIL cannot read: ${e.message}`);
        failed++;
        continue;
    }
    docs.forEach((d, n) => {
        const where = `${file}#${n + 1}`;
        if (d.errors.length) {
            console.log(`${where}: FAIL YAML: ${d.errors.map((e) => e.message).join("; ")}`);
            failed++;
            return;
        }
        const doc = d.toJS();
        if (doc === null || doc === undefined) return; // an empty document
        const id = doc.metadata && doc.metadata.name ? `${doc.kind}/${doc.metadata.name}` : `${doc.kind}`;
        let problems;
        if (doc.apiVersion === "kustomize.config.k8s.io/v1beta1" && doc.kind === "Kustomization") {
            problems = checkKustomization(file, doc);
        } else {
            const validate = typeof doc.apiVersion === "string" && typeof doc.kind === "string" && schemaFor(doc.apiVersion, doc.kind);
            if (!validate) {
                console.log(`${where}: FAIL ${doc.apiVersion} ${doc.kind}: no such kind in the Kubernetes API`);
                failed++;
                return;
            }
            const seen = new Map();
            const ok = validate(watch(doc, seen));
            problems = ok
                ? unknownFields(doc, seen, "", []).map((p) => `${p}: unknown field`)
                : schemaErrors(validate.errors);
            problems.push(...serverChecks(doc));
        }
        if (problems.length) {
            failed++;
            for (const p of problems) console.log(`${where} ${id}: FAIL ${p}`);
        } else {
            passed++;
            console.log(`${where} ${id}: ok`);
        }
    });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
