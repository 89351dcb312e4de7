#!/usr/bin/env bash
# On the GPU machine, after bench/gpu/run.sh built /tmp/gpu-build: the accuracy figures of bench/README.md.
set -uo pipefail
out=${OUT:-bench/out}
A=/tmp/gpu-build/accuracy
example='{"network":"convnet","num_conv_layers":2,"conv_depth_0":32,"conv_depth_1":64,"conv_dropout":0.25,"num_fc_layers":1,"fc_output_feat_0":128,"fc_dropout_0":0.5,"optimizer":"adadelta","lr":1.0,"lr_scheduler":"step","step_size":1,"gamma":0.7,"batch_size":64}'
optuna3='{"network":"convnet","num_conv_layers":3,"conv_depth_0":32,"conv_depth_1":64,"conv_depth_2":64,"conv_dropout":0.25,"num_fc_layers":1,"fc_output_feat_0":64,"fc_dropout_0":0.25,"optimizer":"adam","lr":0.001,"lr_scheduler":"cosine_annealing","T_max":5,"batch_size":128}'
optuna4='{"network":"convnet","num_conv_layers":4,"conv_depth_0":32,"conv_depth_1":48,"conv_depth_2":64,"conv_depth_3":64,"conv_dropout":0.25,"num_fc_layers":1,"fc_output_feat_0":64,"fc_dropout_0":0.25,"optimizer":"adadelta","lr":1.0,"lr_scheduler":"step","step_size":1,"gamma":0.7,"batch_size":64}'
$A --device cuda --epochs 5 --config "$example" --config "$optuna3" --config "$optuna4" | tee -a "$out/accuracy.jsonl"
rcnn='{"network":"residual_cnn","base_channels":32,"num_stages":3,"blocks_per_stage":1,"dropout":0.2,"optimizer":"adamw","lr":0.002,"weight_decay":0.0001,"lr_scheduler":"cosine_annealing","T_max":10,"batch_size":128}'
tiny='{"network":"shapedresnet","num_groups":2,"blocks_per_group":2,"max_units":256,"resnet_shape":"brick","optimizer":"sgd","lr":0.05,"momentum":0.9,"weight_decay":0.0001,"lr_scheduler":"cosine_annealing","T_max":10,"batch_size":125,"feature_preprocessor":"truncated_svd","target_dim":100,"loss":"cross_entropy_weighted"}'
$A --device cuda --epochs 10 --config "$rcnn" --config "$tiny" | tee -a "$out/accuracy.jsonl"
