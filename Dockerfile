# The ingestbench harness image: the pipeline, the coordinator (`ingestbench run --workers N`) and its generator
# workers (`ingestbench worker`); docker-compose.yml and deploy/kubernetes/ run one container per part.
# Build: docker build -t ingestbench:0.1.0 .
# The base is pinned by digest; the Python dependencies by requirements.lock (versions and hashes, generated from
# pyproject.toml: docs/deploy.md says how). Every locked package has a wheel for this platform: no compiler.
FROM python:3.11.9-slim-bookworm@sha256:dad770592ab3582ab2dabcf0e18a863df9d86bd9d23efcfa614110ce49ac20e4

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY requirements.lock ./
RUN pip install --require-hashes --only-binary :all: -r requirements.lock
COPY pyproject.toml README.md ./
COPY ingestbench ingestbench
# The dependencies are all there (locked above) and setuptools is among them: nothing else is fetched.
RUN pip install --no-deps --no-build-isolation . && rm -rf build

RUN useradd --create-home --uid 10001 ingestbench && mkdir -p /data /results \
    && chown ingestbench /data /results
USER ingestbench
VOLUME ["/data", "/results"]
EXPOSE 8080 5557
CMD ["ingestbench", "--help"]
