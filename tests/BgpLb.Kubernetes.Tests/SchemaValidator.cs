using System.Text.Json;
using System.Text.Json.Nodes;

namespace BgpLb.Kubernetes.Tests;

/// <summary>
/// The structural part of a CRD's OpenAPI v3 schema as the API server applies it: types, required, enum, minimum /
/// maximum, minLength / maxLength, minItems, and no fields beyond <c>properties</c> unless the schema has
/// <c>additionalProperties</c> or <c>x-kubernetes-preserve-unknown-fields</c>. An object schema without
/// <c>properties</c> (like <c>metadata</c>) is not looked into. CEL rules are not evaluated.
/// </summary>
internal static class SchemaValidator
{
    public static List<string> Validate(JsonNode? value, JsonObject schema)
    {
        var errors = new List<string>();
        Check(value, schema, "", errors);
        return errors;
    }

    private static void Check(JsonNode? value, JsonObject schema, string path, List<string> errors)
    {
        var where = path.Length == 0 ? "(root)" : path;
        if (value is null)
        {
            if (schema["nullable"]?.GetValue<bool>() != true)
            {
                errors.Add($"{where}: must not be null");
            }
            return;
        }
        var type = schema["type"]?.GetValue<string>();
        var kind = value.GetValueKind();
        var typeOk = type switch
        {
            null => true,
            "object" => kind == JsonValueKind.Object,
            "array" => kind == JsonValueKind.Array,
            "string" => kind == JsonValueKind.String,
            "boolean" => kind is JsonValueKind.True or JsonValueKind.False,
            "integer" => kind == JsonValueKind.Number && Number(value) % 1 == 0,
            "number" => kind == JsonValueKind.Number,
            _ => false,
        };
        if (!typeOk)
        {
            errors.Add($"{where}: expected {type}, got {kind}");
            return;
        }
        if (schema["enum"] is JsonArray allowed && !allowed.Any(a => JsonNode.DeepEquals(a, value)))
        {
            errors.Add($"{where}: {value.ToJsonString()} is not one of {allowed.ToJsonString()}");
        }
        if (kind == JsonValueKind.Number)
        {
            var number = Number(value);
            if (schema["minimum"] is { } min && number < Number(min))
            {
                errors.Add($"{where}: {number} is below the minimum {min}");
            }
            if (schema["maximum"] is { } max && number > Number(max))
            {
                errors.Add($"{where}: {number} is above the maximum {max}");
            }
        }
        if (kind == JsonValueKind.String)
        {
            var length = value.GetValue<string>().Length;
            if (schema["minLength"] is { } minLength && length < Number(minLength))
            {
                errors.Add($"{where}: shorter than {minLength}");
            }
            if (schema["maxLength"] is { } maxLength && length > Number(maxLength))
            {
                errors.Add($"{where}: longer than {maxLength}");
            }
        }
        if (value is JsonArray array)
        {
            if (schema["minItems"] is { } minItems && array.Count < Number(minItems))
            {
                errors.Add($"{where}: fewer than {minItems} items");
            }
            if (schema["items"] is JsonObject items)
            {
                for (var i = 0; i < array.Count; i++)
                {
                    Check(array[i], items, $"{path}[{i}]", errors);
                }
            }
        }
        if (value is JsonObject obj)
        {
            foreach (var required in schema["required"] as JsonArray ?? [])
            {
                if (!obj.ContainsKey(required!.GetValue<string>()))
                {
                    errors.Add($"{where}: missing required field '{required}'");
                }
            }
            var properties = schema["properties"] as JsonObject;
            var additional = schema["additionalProperties"] as JsonObject;
            var preserve = schema["x-kubernetes-preserve-unknown-fields"]?.GetValue<bool>() == true;
            foreach (var (name, child) in obj)
            {
                var childPath = path.Length == 0 ? name : $"{path}.{name}";
                if (properties?[name] is JsonObject childSchema)
                {
                    Check(child, childSchema, childPath, errors);
                }
                else if (additional is not null)
                {
                    Check(child, additional, childPath, errors);
                }
                else if (properties is not null && !preserve)
                {
                    errors.Add($"{childPath}: unknown field");
                }
            }
        }
    }

    // Numbers may be backed by long (from YAML) or JsonElement (from JSON text); the JSON text reads the same for both.
    private static double Number(JsonNode node) => double.Parse(node.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture);
}
