# The Rasa NLU server of docker-compose.yml (service `rasa`): the official Rasa 3.6 image
# (Python 3.10), trained from nlu/ at build time. Step for step what nlu/rasa.mk does:
#   rasa-setup: pip install -r nlu/requirements-rasa.txt (rasa, jieba, OpenCC at their pins)
#   rasa-train: rasa train nlu --config nlu/config.yml --domain nlu/domain.yml --nlu nlu/data/nlu.yml
#               run from the repository root (nlu.rasa_components.JiebaTokenizer, dictionary nlu/dict)
#   rasa-serve: rasa run --enable-api -m nlu/models/current.tar.gz --auth-token $RASA_TOKEN
# tests/test_deploy_recipe.py keeps the two in step. Build context: the repository root.
FROM rasa/rasa:3.6.21

USER root
WORKDIR /app
# No usage data leaves the machine (Rasa's telemetry is on by default), as in nlu/rasa.mk.
ENV RASA_TELEMETRY_ENABLED=false

# rasa-setup: the same requirements file (rasa is already the image's, jieba and OpenCC join it).
COPY nlu/requirements-rasa.txt ./nlu/requirements-rasa.txt
RUN pip install --no-cache-dir -r nlu/requirements-rasa.txt

# rasa-train: every input of the model (config, domain, data, jieba dictionary, custom tokenizer).
COPY nlu ./nlu
RUN rasa train nlu --config nlu/config.yml --domain nlu/domain.yml --nlu nlu/data/nlu.yml \
      --out nlu/models --fixed-model-name current \
 && rm -rf /app/.rasa \
 && mkdir -p /app/logs \
 && chown -R 1001:0 /app && chmod -R g=u /app

# rasa-serve, listening on the compose network instead of 127.0.0.1; the token from $RASA_TOKEN
# (the bot sends the same variable). The log file is kept in the `rasa-logs` volume, as
# `make run` keeps data/rasa.log.
USER 1001
EXPOSE 5005
ENTRYPOINT ["/bin/sh", "-c", "exec rasa run --enable-api -m nlu/models/current.tar.gz -i 0.0.0.0 -p 5005 --auth-token \"${RASA_TOKEN:?RASA_TOKEN is not set}\" --log-file /app/logs/rasa.log"]
