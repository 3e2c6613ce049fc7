#!/bin/sh
echo "script ran with $1"
