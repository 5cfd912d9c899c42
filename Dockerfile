# The ingestbench harness image: the pipeline, the Locust generator and the probe (docker-compose.yml runs one
# service per part). Build: docker build -t ingestbench:0.1.0 .
FROM python:3.11.9-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# gcc for the few dependencies without a wheel for this platform; removed in the same layer.
COPY pyproject.toml README.md ./
COPY ingestbench ingestbench
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install . \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 ingestbench && mkdir -p /data /results \
    && chown ingestbench /data /results
USER ingestbench
VOLUME ["/data", "/results"]
EXPOSE 8080 9465 9646 5557
CMD ["ingestbench", "--help"]
