# One image for every temporal-mlops process: the pipeline worker, the training worker and the model server.
# The compose file picks the process with `command`.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
# Compiles src/ to dist/src/ and writes the prebuilt workflow bundle dist/workflow-bundle.js.
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# The reference trainer (trainers/torch-tabular) runs on Debian's CPU PyTorch; GPU hosts mount a CUDA build instead
# and point MLOPS_PYTHON at it.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 python3-torch python3-pip \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY trainers/torch-tabular/requirements.txt trainers/torch-tabular/requirements.txt
RUN pip3 install --no-cache-dir --break-system-packages -r trainers/torch-tabular/requirements.txt
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY trainers ./trainers
COPY examples ./examples
ENV NODE_ENV=production \
    MLOPS_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js \
    MLOPS_PYTHON=/usr/bin/python3
# The store's mount point, owned by the user the processes run as: an empty named volume takes the ownership of the
# folder it is mounted on, and one Docker made would be root's.
RUN mkdir -p /data && chown node:node /data
USER node
CMD ["node", "dist/src/workers/pipeline-worker.js"]
