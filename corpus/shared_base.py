"""A registry's worth of images that share base layers, as registries do: the images of the
state-store tests (tests/state_test.py) and of the incremental-scan benchmark
(bench/run_incremental_bench.py).

    images = SharedBaseImages(root, count=20, seed=7, base_file_kib=8, base_files=400)
    images.write()                 # OCI layouts root/img00 ... root/img19, each tagged "v1"
    extra = images.add_image(20)   # one more, written the same way (a later push)

Image i has three layers: base-os (the same for all), a runtime layer (runtime-a for even i,
runtime-b for odd i; runtime-b deletes base-os's etc/base.env with a whiteout, so that secret is
not present in those images), and its own app layer. Every fifth image also has a secret in its
config's Env. Every planted secret is recorded in `plants` (raw values: for tests that check they
are never stored).
"""
import dataclasses
import json
import pathlib
import random

import generate as gen


@dataclasses.dataclass
class Image:
    index: int
    layout: pathlib.Path
    tag: str
    manifest_digest: str
    config_digest: str
    layer_digests: list[str]


class SharedBaseImages:
    def __init__(self, root: pathlib.Path, count: int, seed: int, base_file_kib: int = 8,
                 base_files: int = 400, app_files: int = 20, app_file_kib: int = 0):
        self.root = pathlib.Path(root)
        self.count = count
        self.rng = random.Random(seed)
        self.maker = gen.SecretMaker(self.rng, gen.builtin_min_entropy())
        self.filler = gen.Filler(self.rng)
        self.app_files = app_files
        self.app_file_kib = app_file_kib  # 0: small source files
        self.plants: list[gen.Plant] = []
        self.images: list[Image] = []
        self._blobs: dict[int, tuple[bytes, bytes]] = {}
        self.base_os = self._base_os(base_files, base_file_kib)
        self.runtime_a = self._runtime("a", delete_base_env=False)
        self.runtime_b = self._runtime("b", delete_base_env=True)

    def _plant(self, plant: gen.Plant) -> gen.Plant:
        self.plants.append(plant)
        return plant

    def _text(self, kib: int) -> str:
        out, size = [], 0
        while size < kib * 1024:
            block = self.filler.config(20) if self.rng.random() < 0.5 else self.filler.prose(10)
            out.append(block)
            size += len(block)
        return "".join(out)

    def _base_os(self, files: int, kib: int) -> gen.Layer:
        key = self._plant(self.maker.token("aws-access-key-id"))
        members = [gen.text_file(f"usr/share/doc/pkg{n:04d}/README", self._text(kib))
                   for n in range(files)]
        members.append(gen.text_file("etc/base.env", f"AWS_ACCESS_KEY_ID={key.secret}\n",
                                     plants=[key]))
        return gen.Layer(gen.with_parent_dirs(members), "gzip", "ADD rootfs.tar /")

    def _runtime(self, name: str, delete_base_env: bool) -> gen.Layer:
        token = self._plant(self.maker.token("github-pat"))
        members = [gen.text_file(f"opt/runtime-{name}/lib/mod{n:03d}.py", self.filler.python(20))
                   for n in range(60)]
        members.append(gen.text_file(f"opt/runtime-{name}/config.yml",
                                     f"registry_token: {token.secret}\n", plants=[token]))
        if delete_base_env:
            members.append(gen.Member("etc/.wh.base.env"))
        return gen.Layer(gen.with_parent_dirs(members), "gzip",
                         f"RUN install-runtime {name}")

    def _app(self, i: int) -> gen.Layer:
        stripe = self._plant(self.maker.token("stripe-secret-key"))
        slack = self._plant(self.maker.token("slack-bot-token"))
        members = [gen.text_file(f"app/src/handler{n:02d}.py",
                                 self._text(self.app_file_kib) if self.app_file_kib else self.filler.python(10))
                   for n in range(self.app_files)]
        members.append(gen.text_file(f"app/config/app{i:02d}.env",
                                     f"STRIPE_KEY={stripe.secret}\nSLACK_TOKEN={slack.secret}\n",
                                     plants=[stripe, slack]))
        return gen.Layer(gen.with_parent_dirs(members), "gzip", f"COPY app{i:02d} /app")

    def _blob(self, layer: gen.Layer) -> tuple[bytes, bytes]:
        """The layer's tar and its gzip, made once for each shared layer."""
        shared = layer in (self.base_os, self.runtime_a, self.runtime_b)
        key = id(layer)  # the shared layers live as long as this object: their ids stay theirs
        if not shared or key not in self._blobs:
            tar = layer.tar
            blob = (tar, gen.gzip_bytes(tar))
            if not shared:
                return blob
            self._blobs[key] = blob
        return self._blobs[key]

    def _write(self, i: int) -> Image:
        layers = [self.base_os, self.runtime_a if i % 2 == 0 else self.runtime_b, self._app(i)]
        env = ["PATH=/usr/local/bin:/usr/bin:/bin", f"APP_INDEX={i}"]
        if i % 5 == 0:
            token = self._plant(self.maker.token("gitlab-pat"))
            env.append(f"GITLAB_TOKEN={token.secret}")
        config = gen.config_dict(gen.history_of([layer.created_by for layer in layers]),
                                 config={"Env": env, "Cmd": ["/app/start"]})
        layout = self.root / f"img{i:02d}"
        # As gen.write_oci_image, but each shared layer is tarred and compressed once.
        oci = gen.OciLayout(layout)
        blobs = [self._blob(layer) for layer in layers]
        descriptors = [oci.put_layer(compressed, gen.MT_LAYER_GZIP) for _, compressed in blobs]
        oci.add_image("v1", gen.config_bytes(config, [tar for tar, _ in blobs]), descriptors)
        oci.finish()
        index = json.loads((layout / "index.json").read_text())
        manifest_digest = index["manifests"][0]["digest"]
        manifest = json.loads((layout / "blobs" / "sha256" / manifest_digest[7:]).read_text())
        image = Image(i, layout, "v1", manifest_digest, manifest["config"]["digest"],
                      [layer["digest"] for layer in manifest["layers"]])
        self.images.append(image)
        return image

    def write(self) -> list[Image]:
        for i in range(self.count):
            self._write(i)
        return self.images

    def add_image(self, i: int) -> Image:
        return self._write(i)

    def unique_layers(self, images=None) -> set[str]:
        return {d for image in (images or self.images) for d in image.layer_digests}
